import { BwrapSandbox } from './bwrap.js';
import type { Sandbox, SandboxLimits } from './sandbox.js';
import { unconfined } from './unconfined.js';

export { BwrapSandbox, probeBwrap, INSTALL_HINT } from './bwrap.js';
export type { Sandbox, SandboxCommand, SandboxLimits, SandboxMode, SandboxRunOptions } from './sandbox.js';
export { unconfined } from './unconfined.js';

/** How a worker confines execute-shell steps (from the `sandbox*` settings). */
export type SandboxConfig =
  | { mode: 'off' }
  | {
      mode: 'bwrap';
      /** False: no step gets a network. */
      network: boolean;
      /** Host uid of sandboxed commands when the worker is root. */
      uid: number;
      limits: SandboxLimits;
    };

export function createSandbox(config: SandboxConfig, workRoot: string): Sandbox {
  switch (config.mode) {
    case 'off':
      return unconfined;
    case 'bwrap':
      return new BwrapSandbox({ network: config.network, uid: config.uid, limits: config.limits, workRoot });
  }
}
