/** What a build-control worker puts in a step ticket's payload; what step workers receive. */
export interface StepPayload {
  job: string;
  build: number;
  step: string;
  /** git-checkout | execute-shell | publish-artifacts | copy-artifacts */
  type: string;
  /** The step's params, validated and with defaults applied. */
  params: Record<string, unknown>;
  /** Job env, then step env, then build parameters, then matrix values (later wins). */
  env: Record<string, string>;
  /** Names of the secrets the step may read (fetched at run time, never stored in tickets). */
  secrets: string[];
  timeoutSeconds?: number;
  /**
   * When the whole build must end (ms since the epoch): the worker stops the step then even
   * if its own timeout has not run out. Fixed at the build's start, so a step ticket posted
   * again (a resumed build-control worker) is the very same request.
   */
  deadline?: number;
  /**
   * Workspaces of the steps this one needs, extracted in this order (later overwrite
   * earlier). Empty for a step with no predecessors: it starts in an empty directory.
   */
  inputs: WorkspaceRef[];
}

export interface WorkspaceRef {
  step: string;
  attempt: number;
}

/** What a step worker reports in its ticket result's `data`. */
export interface StepResultData {
  /**
   * The stored workspace that holds what the step left: its own attempt's upload, or its
   * single input's ref when it changed nothing (nothing uploaded then).
   */
  workspace?: WorkspaceRef;
  artifacts?: { path: string; size: number }[];
  exitCode?: number | null;
}
