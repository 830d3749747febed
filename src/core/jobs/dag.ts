/**
 * The step graph of a build: order, readiness and skip propagation. Pure functions over
 * `{name, needs}`; the build-control worker calls them after every recorded transition.
 */
import { ValidationError } from '../errors.js';

export type StepState = 'pending' | 'running' | 'success' | 'failure' | 'error' | 'cancelled' | 'skipped';
export const STEP_STATES: readonly StepState[] = ['pending', 'running', 'success', 'failure', 'error', 'cancelled', 'skipped'];

/** States after which a step never changes again. */
export function isFinished(state: StepState): boolean {
  return state !== 'pending' && state !== 'running';
}

export interface DagNode {
  name: string;
  needs: readonly string[];
}

export type StepStates = Readonly<Record<string, StepState | undefined>>;

/** A cycle as names, first repeated last (`[a, b, a]`), or null for a DAG. Unknown needs are ignored. */
export function findCycle(nodes: readonly DagNode[]): string[] | null {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (node: DagNode): string[] | null => {
    state.set(node.name, 'visiting');
    stack.push(node.name);
    for (const need of node.needs) {
      const next = byName.get(need);
      if (!next || state.get(need) === 'done') continue;
      if (state.get(need) === 'visiting') return [...stack.slice(stack.indexOf(need)), need];
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(node.name, 'done');
    return null;
  };
  for (const node of nodes) {
    if (state.has(node.name)) continue;
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return null;
}

export function describeCycle(cycle: readonly string[]): string {
  return `cycle ${cycle.join(' → ')}`;
}

/**
 * Checks that names are unique, every need exists and there is no cycle; returns the steps
 * in an order where each comes after its needs, otherwise keeping declaration order.
 */
export function planOrder<T extends DagNode>(steps: readonly T[]): T[] {
  const errors: { path: string; message: string }[] = [];
  const names = new Set<string>();
  for (const step of steps) {
    if (names.has(step.name)) errors.push({ path: 'steps', message: `duplicate step name '${step.name}'` });
    names.add(step.name);
  }
  for (const step of steps) {
    for (const need of step.needs) {
      if (!names.has(need)) errors.push({ path: 'steps', message: `step '${step.name}' needs unknown step '${need}'` });
    }
  }
  const cycle = errors.length === 0 ? findCycle(steps) : null;
  if (cycle) errors.push({ path: 'steps', message: describeCycle(cycle) });
  if (errors.length > 0) {
    throw new ValidationError(errors.map((e) => `${e.path}: ${e.message}`).join('; '), { errors });
  }
  const placed = new Set<string>();
  const order: T[] = [];
  while (order.length < steps.length) {
    const next = steps.find((s) => !placed.has(s.name) && s.needs.every((n) => placed.has(n)));
    if (!next) break; // unreachable: no cycle
    placed.add(next.name);
    order.push(next);
  }
  return order;
}

const stateOf = (states: StepStates, name: string): StepState => states[name] ?? 'pending';

/** Pending steps whose needs have all succeeded: post a ticket for each. */
export function readySteps<T extends DagNode>(steps: readonly T[], states: StepStates): T[] {
  return steps.filter(
    (step) => stateOf(states, step.name) === 'pending' && step.needs.every((n) => stateOf(states, n) === 'success'),
  );
}

/**
 * Pending steps that can never run because a need, directly or through other pending steps,
 * ended in anything but success: mark each 'skipped'. Transitive, so one call suffices.
 */
export function blockedSteps<T extends DagNode>(steps: readonly T[], states: StepStates): T[] {
  const blocked = new Set<string>();
  for (const step of planOrder(steps)) {
    if (stateOf(states, step.name) !== 'pending') continue;
    const doomed = step.needs.some((n) => {
      const state = stateOf(states, n);
      return blocked.has(n) || (isFinished(state) && state !== 'success');
    });
    if (doomed) blocked.add(step.name);
  }
  return steps.filter((step) => blocked.has(step.name));
}
