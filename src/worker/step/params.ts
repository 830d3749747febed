import { ValidationError } from '../../core/errors.js';

/** Reads a step's params with checks whose messages name the kind and the param. */
export class ParamReader {
  constructor(
    private readonly kind: string,
    private readonly params: Record<string, unknown>,
  ) {}

  fail(name: string, expectation: string): never {
    throw new ValidationError(`${this.kind} param "${name}" must be ${expectation}`, { field: `params.${name}` });
  }

  has(name: string): boolean {
    return this.params[name] !== undefined && this.params[name] !== null;
  }

  value(name: string): unknown {
    return this.has(name) ? this.params[name] : undefined;
  }

  string(name: string): string {
    const v = this.params[name];
    if (typeof v !== 'string' || v.length === 0) this.fail(name, 'a non-empty string');
    return v;
  }

  optString(name: string): string | undefined {
    return this.has(name) ? this.string(name) : undefined;
  }

  optInt(name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
    if (!this.has(name)) return undefined;
    const v = this.params[name];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) this.fail(name, `an integer from ${min} to ${max}`);
    return v;
  }

  strings(name: string): string[] {
    const v = this.params[name];
    if (!Array.isArray(v) || v.length === 0 || v.some((s) => typeof s !== 'string' || s.length === 0)) {
      this.fail(name, 'a non-empty list of non-empty strings');
    }
    return v as string[];
  }

  optStrings(name: string): string[] | undefined {
    return this.has(name) ? this.strings(name) : undefined;
  }

  optEnv(name: string): Record<string, string> | undefined {
    if (!this.has(name)) return undefined;
    const v = this.params[name];
    if (typeof v !== 'object' || v === null || Array.isArray(v) || Object.values(v).some((s) => typeof s !== 'string')) {
      this.fail(name, 'an object mapping names to strings');
    }
    return v as Record<string, string>;
  }
}
