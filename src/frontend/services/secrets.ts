import { ValidationError } from '../../core/errors.js';

/** Where step secrets come from; values never appear in tickets, build records or logs. */
export interface SecretsProvider {
  /** Values of the named secrets; a name with no value is an error naming it. */
  resolve(names: readonly string[], scope: { job: string }): Promise<Record<string, string>>;
}

/**
 * Secrets from the frontend's configuration (`secrets:` in the config file, or
 * DISTCI_SECRET_<NAME> variables). Every frontend of a deployment must be given the same.
 */
export class ConfiguredSecrets implements SecretsProvider {
  constructor(private readonly values: Readonly<Record<string, string>>) {}

  async resolve(names: readonly string[]): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    const missing = names.filter((n) => this.values[n] === undefined);
    if (missing.length > 0) {
      throw new ValidationError(`secret ${missing.join(', ')} is not configured on this frontend: set DISTCI_SECRET_${missing[0]} or "secrets" in the config file`);
    }
    for (const name of names) out[name] = this.values[name]!;
    return out;
  }
}

/** DISTCI_SECRET_<NAME>=value variables, by name. */
export function secretsFromEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (key.startsWith('DISTCI_SECRET_') && value !== undefined) out[key.slice('DISTCI_SECRET_'.length)] = value;
  }
  return out;
}
