/**
 * Pipeline layout: steps in columns by depth (a step sits one column right of the deepest
 * step it needs), the expansions of a matrix step boxed together, edges drawn between
 * boxes. Sizes are fixed, so the graph never moves while statuses change.
 */
import type { StepState } from './types.js';

export const NODE_W = 208;
export const NODE_H = 76;
export const COL_GAP = 56;
export const ROW_GAP = 12;
export const GROUP_HEAD = 24;
export const GROUP_PAD = 8;
export const MARGIN = 8;

export interface PlannedRef {
  name: string;
  /** The declared step a matrix expansion came from. */
  step: string;
  matrixValues: Record<string, string>;
}

export interface NodeBox {
  step: StepState;
  /** `node=20, os=linux` for a matrix expansion, else ''. */
  label: string;
  x: number;
  y: number;
}

export interface GroupBox {
  name: string;
  matrix: boolean;
  x: number;
  y: number;
  w: number;
  h: number;
  nodes: NodeBox[];
}

export interface Edge {
  from: string;
  to: string;
  /** Cubic path in the graph's coordinates. */
  d: string;
}

export interface Layout {
  width: number;
  height: number;
  groups: GroupBox[];
  edges: Edge[];
}

export function layoutPipeline(steps: readonly StepState[], plan: readonly PlannedRef[]): Layout {
  const planned = new Map(plan.map((p) => [p.name, p]));
  const groupOf = (name: string): string => planned.get(name)?.step ?? name;

  // Groups in pipeline order, each with its expansions.
  const members = new Map<string, StepState[]>();
  for (const step of steps) {
    const g = groupOf(step.name);
    members.set(g, [...(members.get(g) ?? []), step]);
  }
  const groupNeeds = new Map<string, Set<string>>();
  for (const [g, list] of members) {
    groupNeeds.set(g, new Set(list.flatMap((s) => s.needs.map(groupOf)).filter((n) => n !== g && members.has(n))));
  }

  const depth = new Map<string, number>();
  const depthOf = (g: string, seen = new Set<string>()): number => {
    const known = depth.get(g);
    if (known !== undefined) return known;
    if (seen.has(g)) return 0; // a cycle cannot be planned; never loop on bad data
    seen.add(g);
    const d = Math.max(-1, ...[...(groupNeeds.get(g) ?? [])].map((n) => depthOf(n, seen))) + 1;
    depth.set(g, d);
    return d;
  };
  const columns: string[][] = [];
  for (const g of members.keys()) (columns[depthOf(g)] ??= []).push(g);

  const groups = new Map<string, GroupBox>();
  let height = 0;
  columns.forEach((column, c) => {
    // Place each box near the boxes it needs: fewer crossing edges.
    const centre = (g: string): number => {
      const ys = [...(groupNeeds.get(g) ?? [])].map((n) => groups.get(n)).filter((b): b is GroupBox => !!b).map((b) => b.y + b.h / 2);
      return ys.length ? ys.reduce((a, b) => a + b, 0) / ys.length : 0;
    };
    const ordered = column.map((g, i) => ({ g, i, y: centre(g) })).sort((a, b) => a.y - b.y || a.i - b.i);
    let y = MARGIN;
    for (const { g } of ordered) {
      const list = members.get(g) ?? [];
      const matrix = list.length > 1 || Object.keys(planned.get(list[0]?.name ?? '')?.matrixValues ?? {}).length > 0;
      const x = MARGIN + c * (NODE_W + 2 * GROUP_PAD + COL_GAP);
      const head = matrix ? GROUP_HEAD : 0;
      const pad = matrix ? GROUP_PAD : 0;
      const nodes = list.map((step, i) => ({
        step,
        label: Object.entries(planned.get(step.name)?.matrixValues ?? {})
          .map(([k, v]) => `${k}=${v}`)
          .join(', '),
        x: x + (matrix ? GROUP_PAD : GROUP_PAD),
        y: y + head + pad + i * (NODE_H + ROW_GAP),
      }));
      const h = head + 2 * pad + list.length * NODE_H + Math.max(0, list.length - 1) * ROW_GAP;
      groups.set(g, { name: g, matrix, x, y, w: NODE_W + 2 * GROUP_PAD, h, nodes });
      y += h + ROW_GAP * 2;
    }
    height = Math.max(height, y - ROW_GAP * 2 + MARGIN);
  });

  const edges: Edge[] = [];
  for (const [g, needs] of groupNeeds) {
    const to = groups.get(g);
    for (const n of needs) {
      const from = groups.get(n);
      if (!from || !to) continue;
      const x1 = from.x + from.w - (from.matrix ? 0 : GROUP_PAD);
      const y1 = from.y + from.h / 2;
      const x2 = to.x + (to.matrix ? 0 : GROUP_PAD);
      const y2 = to.y + to.h / 2;
      const mid = (x1 + x2) / 2;
      edges.push({ from: n, to: g, d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}` });
    }
  }
  const width = MARGIN * 2 + columns.length * (NODE_W + 2 * GROUP_PAD) + Math.max(0, columns.length - 1) * COL_GAP;
  return { width, height: Math.max(height, NODE_H + 2 * MARGIN), groups: [...groups.values()], edges };
}
