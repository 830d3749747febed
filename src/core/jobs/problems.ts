/**
 * Collecting config problems and turning them into one ValidationError whose message lists
 * every problem as `path: problem`, so a user fixes a config in one round trip.
 */
import type { Static, TSchema } from '@sinclair/typebox';
import { Value, ValueErrorType, type ValueError } from '@sinclair/typebox/value';
import { ValidationError } from '../errors.js';
import type { ConfigProblem } from './types.js';

/** A path in the new form and the path the user actually wrote (original DistCI form). */
export type Rename = readonly [written: string, original: string];

const MAX_LISTED = 20;

export class Problems {
  readonly list: ConfigProblem[] = [];

  constructor(private readonly renames: readonly Rename[] = []) {}

  /** `path` is in the new form; it is rewritten to what the user wrote. */
  add(path: string, message: string): void {
    this.list.push({ path: this.original(path), message });
  }

  /** `path` is already what the user wrote. */
  addVerbatim(problem: ConfigProblem): void {
    this.list.push(problem);
  }

  get count(): number {
    return this.list.length;
  }

  throwIfAny(): void {
    if (this.list.length > 0) throw configError(this.list);
  }

  private original(path: string): string {
    let best: Rename | undefined;
    for (const rename of this.renames) {
      const [written] = rename;
      const covers = path === written || path.startsWith(`${written}.`) || path.startsWith(`${written}[`);
      if (covers && written.length > (best?.[0].length ?? -1)) best = rename;
    }
    return best ? best[1] + path.slice(best[0].length) : path;
  }
}

/** Problems with the whole document (path '') read as plain sentences. */
export function configError(problems: readonly ConfigProblem[]): ValidationError {
  const shown = problems.slice(0, MAX_LISTED).map((p) => (p.path ? `${p.path}: ${p.message}` : p.message));
  if (problems.length > MAX_LISTED) shown.push(`... and ${problems.length - MAX_LISTED} more problems`);
  return new ValidationError(shown.join('; '), { errors: problems.map((p) => ({ ...p })) });
}

/** `steps` + 2 → `steps[2]`; `env` + `A B` → `env["A B"]`. */
export function childPath(base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`;
  if (!/^[A-Za-z0-9_-]+$/.test(key)) return `${base}[${JSON.stringify(key)}]`;
  return base ? `${base}.${key}` : key;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Checks `value` against `schema`, adding one problem per offending path under `base`. */
export function conforms<T extends TSchema>(
  schema: T,
  value: unknown,
  base: string,
  problems: Problems,
): value is Static<T> {
  const byPath = new Map<string, string>();
  for (const error of Value.Errors(schema, value)) {
    const path = jsonPointerToPath(base, error.path, value);
    if (!byPath.has(path) || error.type === ValueErrorType.ObjectRequiredProperty) byPath.set(path, describe(error));
  }
  for (const [path, message] of byPath) problems.add(path, message);
  return byPath.size === 0;
}

function describe(error: ValueError): string {
  if (error.type === ValueErrorType.ObjectRequiredProperty) return 'required';
  if (error.type === ValueErrorType.ObjectAdditionalProperties) {
    const properties: unknown = error.schema['properties'];
    const key = decodeSegment(error.path.slice(error.path.lastIndexOf('/') + 1));
    return unknownField(key, isRecord(properties) ? Object.keys(properties) : []);
  }
  const custom: unknown = error.schema['errorMessage'];
  if (typeof custom === 'string') return custom;
  return error.message.charAt(0).toLowerCase() + error.message.slice(1);
}

export function unknownField(key: string, allowed: readonly string[]): string {
  const near = allowed.filter((name) => editDistance(key.toLowerCase(), name.toLowerCase()) <= 2);
  if (near.length > 0 && key.length > 2) return `unknown field (did you mean '${near[0]}'?)`;
  return `unknown field (allowed: ${allowed.join(', ')})`;
}

function jsonPointerToPath(base: string, pointer: string, root: unknown): string {
  let path = base;
  let node = root;
  for (const segment of pointer.split('/').slice(1).map(decodeSegment)) {
    if (Array.isArray(node)) {
      path = childPath(path, Number(segment));
      node = node[Number(segment)] as unknown;
    } else {
      path = childPath(path, segment);
      node = isRecord(node) ? node[segment] : undefined;
    }
  }
  return path;
}

function decodeSegment(segment: string): string {
  return segment.replaceAll('~1', '/').replaceAll('~0', '~');
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
