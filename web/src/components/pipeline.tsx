/**
 * The pipeline as a graph: boxes for steps (matrix expansions boxed together), curves for
 * `needs`. Each step is a button that selects it (its attempts and its console).
 */
import { useMemo } from 'preact/hooks';
import { duration } from '../lib/format.js';
import { layoutPipeline, NODE_H, NODE_W, type PlannedRef } from '../lib/graph.js';
import type { StepState } from '../lib/types.js';
import { Status } from './status.js';

export function stepDuration(step: StepState, now: number): number | null {
  if (step.startedAt === null) return null;
  return (step.finishedAt ?? now) - step.startedAt;
}

export function PipelineGraph({
  steps,
  plan,
  selected,
  onSelect,
  now,
}: {
  steps: StepState[];
  plan: PlannedRef[];
  selected: string | null;
  onSelect: (step: string | null) => void;
  now: number;
}) {
  // The shape depends only on names and needs; statuses change without moving anything.
  const shapeKey = steps.map((s) => `${s.name}<${s.needs.join(',')}`).join('|');
  const layout = useMemo(() => layoutPipeline(steps, plan), [shapeKey]);
  const byName = new Map(steps.map((s) => [s.name, s]));
  return (
    <div class="graph-scroll" data-testid="pipeline">
      <div class="graph" style={{ width: `${layout.width}px`, height: `${layout.height}px` }}>
        <svg class="edges" width={layout.width} height={layout.height} aria-hidden="true">
          <defs>
            <marker id="arrow" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="8" markerHeight="8" orient="auto-start-reverse">
              <path d="M0,0 L8,4 L0,8 z" class="arrowhead" />
            </marker>
          </defs>
          {layout.edges.map((e) => (
            <path key={`${e.from}>${e.to}`} d={e.d} class="edge" marker-end="url(#arrow)" />
          ))}
        </svg>
        {layout.groups.map((g) =>
          g.matrix ? (
            <div key={`g-${g.name}`} class="group" style={{ left: `${g.x}px`, top: `${g.y}px`, width: `${g.w}px`, height: `${g.h}px` }}>
              <span class="group-name">{g.name} · matrix</span>
            </div>
          ) : null,
        )}
        <ol class="nodes" aria-label="Steps">
          {layout.groups.flatMap((g) =>
            g.nodes.map((n) => {
              const step = byName.get(n.step.name) ?? n.step;
              const attempts = step.attempts.length;
              const worker = step.attempts.at(-1)?.worker;
              const isSelected = selected === step.name;
              return (
                <li key={step.name} style={{ left: `${n.x}px`, top: `${n.y}px`, width: `${NODE_W}px`, height: `${NODE_H}px` }}>
                  <button
                    type="button"
                    class={`node s-${step.status}${isSelected ? ' selected' : ''}`}
                    aria-pressed={isSelected}
                    data-step={step.name}
                    data-status={step.status}
                    title={`${step.name}: ${step.status}${step.message ? ` — ${step.message}` : ''}`}
                    onClick={() => onSelect(isSelected ? null : step.name)}
                  >
                    <span class="node-name">{n.label || step.name}</span>
                    <span class="node-line">
                      <Status status={step.status} small />
                      <span class="num">{duration(stepDuration(step, now))}</span>
                    </span>
                    <span class="node-line muted">
                      <span>{attempts > 1 ? `attempt ${attempts}` : step.type}</span>
                      <span class="ellipsis worker">{worker ?? ''}</span>
                    </span>
                  </button>
                </li>
              );
            }),
          )}
        </ol>
      </div>
    </div>
  );
}
