import type { Logger } from 'pino';
import type { Coordinator, RecordPage } from '../../coordination/contract.js';
import type { Keyring } from '../../core/crypto/keyring.js';
import { seal, unseal, UnsealError, type Sealed, type UnsealFailure } from '../../core/crypto/seal.js';
import { ConflictError, DistciError, NotFoundError, ValidationError } from '../../core/errors.js';
import { matchesJobPattern } from '../auth.js';

/** Where step secrets come from; values never appear in tickets, build records or logs. */
export interface SecretsProvider {
  /** Values of the named secrets; a name with no value is an error naming it. */
  resolve(names: readonly string[], scope: { job: string }): Promise<Record<string, string>>;
  /** The names it has a value for (never the values). */
  names?(): string[];
}

export const SECRET_NAME = '^[A-Za-z_][A-Za-z0-9_]{0,127}$';

/**
 * Secrets from the frontend's configuration (`secrets:` in the config file, or
 * DISTCI_SECRET_<NAME> variables). Every frontend of a deployment must be given the same.
 * Read only: they change where they are configured.
 */
export class ConfiguredSecrets implements SecretsProvider {
  constructor(private readonly values: Readonly<Record<string, string>>) {}

  async resolve(names: readonly string[]): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    const missing = names.filter((n) => this.values[n] === undefined);
    if (missing.length > 0) {
      throw new ValidationError(
        `secret ${missing.join(', ')} is not defined: create it with \`distci secrets set ${missing[0]}\`, or set DISTCI_SECRET_${missing[0]} or "secrets" in the config file of every frontend`,
      );
    }
    for (const name of names) out[name] = this.values[name]!;
    return out;
  }

  names(): string[] {
    return Object.keys(this.values).sort();
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

/** The coordinator record `secrets/<name>`: the value sealed, the rest in the clear. */
export interface StoredSecret extends Sealed {
  name: string;
  /** Glob of the jobs whose steps may receive it; null: any job that names it. */
  jobs: string | null;
  createdAt: number;
  updatedAt: number;
  /** Name of the token that last set it. */
  updatedBy: string;
}

/** What the API shows of a secret: never its value, nor its ciphertext. */
export interface SecretInfo {
  name: string;
  source: 'store' | 'config';
  keyId: string | null;
  jobs: string | null;
  createdAt: number | null;
  updatedAt: number | null;
  updatedBy: string | null;
}

export interface RotationReport {
  /** The key everything is sealed with now. */
  keyId: string;
  rotated: string[];
  alreadyCurrent: number;
  /**
   * Left as they were: sealed with a key this frontend does not hold (configure it here
   * and rotate again), or failing their integrity check (set them again).
   */
  unreadable: { name: string; keyId: string; reason: UnsealFailure }[];
}

export const secretKey = (name: string): string => `secrets/${name}`;
const PREFIX = 'secrets/';

/** Authenticated with the value: a ciphertext moved to another name, or a widened scope, does not open. */
const associated = (name: string, jobs: string | null): string => `${name}\0${jobs ?? ''}`;

const NO_KEY =
  'this frontend has no secrets key, so it cannot store secrets: start every frontend with --secrets-key-file FILE or ' +
  'DISTCI_SECRETS_KEY (32 random bytes in base64: head -c 32 /dev/urandom | base64); secrets from the config file ' +
  'and DISTCI_SECRET_<NAME> keep working, read only';

/**
 * Secrets kept in the coordinator, sealed with AES-256-GCM under the frontend's keyring
 * (shared by every frontend). Names the store does not hold fall through to the
 * configured secrets, so those keep working unchanged.
 */
export class SecretStore implements SecretsProvider {
  constructor(
    private readonly coordinator: Coordinator,
    private readonly keyring: Keyring | null,
    private readonly fallback: SecretsProvider,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  get keyIds(): string[] {
    return this.keyring?.ids ?? [];
  }

  async set(name: string, value: string, jobs: string | null, by: string): Promise<{ secret: SecretInfo; created: boolean }> {
    const keyring = this.keyring;
    if (!keyring) throw new ConflictError(NO_KEY, { reason: 'no_secrets_key' });
    for (;;) {
      const current = await this.coordinator.getRecord<StoredSecret>(secretKey(name));
      const now = this.now();
      const record: StoredSecret = {
        name,
        ...seal(keyring, value, associated(name, jobs)),
        jobs,
        createdAt: current?.value.createdAt ?? now,
        updatedAt: now,
        updatedBy: by,
      };
      try {
        await this.coordinator.putRecord(secretKey(name), record, current?.version ?? 0);
        return { secret: info(record), created: current === null };
      } catch (err) {
        // Set concurrently elsewhere: the last write wins, as with any update.
        if (!(err instanceof ConflictError)) throw err;
      }
    }
  }

  async delete(name: string): Promise<void> {
    for (;;) {
      const current = await this.coordinator.getRecord<StoredSecret>(secretKey(name));
      if (!current) {
        if (this.fallback.names?.().includes(name)) {
          throw new ConflictError(`secret ${name} comes from the frontends' configuration (DISTCI_SECRET_${name} or "secrets" in the config file); remove it there`, { name });
        }
        throw new NotFoundError('secret', name);
      }
      try {
        await this.coordinator.deleteRecord(secretKey(name), current.version);
        return;
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
      }
    }
  }

  /** Stored secrets and configured ones the store does not shadow, by name. */
  async list(): Promise<SecretInfo[]> {
    const stored = (await this.records()).map((r) => info(r.value));
    const names = new Set(stored.map((s) => s.name));
    const configured = (this.fallback.names?.() ?? [])
      .filter((n) => !names.has(n))
      .map((name): SecretInfo => ({ name, source: 'config', keyId: null, jobs: null, createdAt: null, updatedAt: null, updatedBy: null }));
    return [...stored, ...configured].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async resolve(names: readonly string[], scope: { job: string }): Promise<Record<string, string>> {
    const found = await Promise.all(names.map(async (name) => [name, await this.coordinator.getRecord<StoredSecret>(secretKey(name))] as const));
    const out: Record<string, string> = {};
    const rest: string[] = [];
    for (const [name, record] of found) {
      if (record) out[name] = this.open(record.value, scope.job);
      else rest.push(name);
    }
    return rest.length === 0 ? out : { ...(await this.fallback.resolve(rest, scope)), ...out };
  }

  /**
   * Re-seals every secret not sealed with the primary key, so older keys can then be
   * removed. Safe to repeat and to run on several frontends at once (compare-and-set).
   */
  async rotate(): Promise<RotationReport> {
    const keyring = this.keyring;
    if (!keyring) throw new ConflictError(NO_KEY, { reason: 'no_secrets_key' });
    const report: RotationReport = { keyId: keyring.primary.id, rotated: [], alreadyCurrent: 0, unreadable: [] };
    for (const { key } of await this.records()) {
      for (;;) {
        const current = await this.coordinator.getRecord<StoredSecret>(key);
        if (!current) break; // deleted meanwhile
        const secret = current.value;
        if (secret.keyId === keyring.primary.id) {
          report.alreadyCurrent++;
          break;
        }
        let value: string;
        try {
          value = this.open(secret, null);
        } catch (err) {
          const reason = (err as DistciError).details?.reason;
          if (reason !== 'unknown_key' && reason !== 'tampered') throw err;
          report.unreadable.push({ name: secret.name, keyId: secret.keyId, reason });
          break;
        }
        const resealed: StoredSecret = { ...secret, ...seal(keyring, value, associated(secret.name, secret.jobs)) };
        try {
          await this.coordinator.putRecord(key, resealed, current.version);
          report.rotated.push(secret.name);
          break;
        } catch (err) {
          if (!(err instanceof ConflictError)) throw err;
        }
      }
    }
    this.log.info({ keyId: report.keyId, rotated: report.rotated.length, alreadyCurrent: report.alreadyCurrent, unreadable: report.unreadable }, 'secrets re-sealed');
    return report;
  }

  private async records() {
    const out: RecordPage<StoredSecret>['records'] = [];
    for (let after: string | undefined; ; ) {
      const page = await this.coordinator.listRecords<StoredSecret>(PREFIX, { limit: 1000, ...(after ? { after } : {}) });
      out.push(...page.records);
      if (!page.next) return out;
      after = page.next;
    }
  }

  /** The value, for a step of `job` (null: for re-sealing). */
  private open(secret: StoredSecret, job: string | null): string {
    if (job !== null && secret.jobs !== null && !matchesJobPattern(secret.jobs, job)) {
      throw new DistciError('forbidden', `secret ${secret.name} may only be given to jobs matching '${secret.jobs}', not to job '${job}'`, { name: secret.name, job });
    }
    if (!this.keyring) {
      throw new ConflictError(`secret ${secret.name} is sealed and this frontend has no secrets key: configure the same --secrets-key-file or DISTCI_SECRETS_KEY on every frontend`, {
        name: secret.name,
        reason: 'no_secrets_key',
      });
    }
    try {
      return unseal(this.keyring, secret, associated(secret.name, secret.jobs));
    } catch (err) {
      if (!(err instanceof UnsealError)) throw err;
      if (err.reason === 'tampered') {
        this.log.warn({ secret: secret.name, keyId: secret.keyId }, 'stored secret failed its integrity check; refusing it');
        throw new ConflictError(`secret ${secret.name} failed its integrity check: its stored record was altered or is corrupt; set it again with \`distci secrets set ${secret.name}\``, {
          name: secret.name,
          reason: err.reason,
        });
      }
      throw new ConflictError(
        `secret ${secret.name} is sealed with key ${secret.keyId}, which this frontend does not hold (it has ${this.keyring.ids.join(', ')}); give every frontend the same keys (see "Rotating the secrets key" in the README)`,
        { name: secret.name, reason: err.reason, keyId: secret.keyId },
      );
    }
  }
}

function info(secret: StoredSecret): SecretInfo {
  return {
    name: secret.name,
    source: 'store',
    keyId: secret.keyId,
    jobs: secret.jobs,
    createdAt: secret.createdAt,
    updatedAt: secret.updatedAt,
    updatedBy: secret.updatedBy,
  };
}
