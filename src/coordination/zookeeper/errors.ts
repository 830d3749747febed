/**
 * The one place where ZooKeeper's native errors become distci's. The client wrapper
 * throws `ZkError` (a code, the path, and for a multi-op the index and meaning of the op
 * that failed); `toDistciError` turns it into a `DistciError` using what the failed call
 * or op meant (a ticket, a record version, a lease token, ...).
 */
import {
  ConflictError,
  DistciError,
  LeaseLostError,
  NotFoundError,
  UnavailableError,
} from '../../core/errors.js';

/** ZooKeeper's error codes (KeeperException.Code) that this backend meets. */
export const ZK = {
  OK: 0,
  SYSTEM_ERROR: -1,
  RUNTIME_INCONSISTENCY: -2,
  CONNECTION_LOSS: -4,
  MARSHALLING_ERROR: -5,
  OPERATION_TIMEOUT: -7,
  BAD_ARGUMENTS: -8,
  NO_NODE: -101,
  NO_AUTH: -102,
  BAD_VERSION: -103,
  NO_CHILDREN_FOR_EPHEMERALS: -108,
  NODE_EXISTS: -110,
  NOT_EMPTY: -111,
  SESSION_EXPIRED: -112,
  SESSION_MOVED: -118,
} as const;

const NAMES = new Map<number, string>(Object.entries(ZK).map(([name, code]) => [code, name]));

/** What a znode operation meant, so that its failure can be told in distci's terms. */
export type Meaning =
  | { what: 'ticket'; id: string }
  | { what: 'fence'; ticketId: string; token: number }
  | { what: 'record'; key: string; expectedVersion: number }
  | { what: 'lock'; name: string }
  | { what: 'counter'; name: string }
  | { what: 'internal'; note: string };

export class ZkError extends Error {
  constructor(
    readonly code: number,
    readonly path: string | undefined,
    /** For a failed multi-op: which op failed, and what it meant. */
    readonly opIndex?: number,
    readonly meaning?: Meaning,
  ) {
    super(`ZooKeeper ${NAMES.get(code) ?? `error ${code}`}${path ? ` at ${path}` : ''}`);
    this.name = 'ZkError';
  }

  get codeName(): string {
    return NAMES.get(this.code) ?? String(this.code);
  }
}

export function isZk(err: unknown, ...codes: number[]): err is ZkError {
  return err instanceof ZkError && (codes.length === 0 || codes.includes(err.code));
}

/**
 * The request may or may not have been applied: the connection broke, the call timed out,
 * or the session ended while it was in flight. The caller must re-read before retrying.
 */
const UNKNOWN_OUTCOME: readonly number[] = [ZK.CONNECTION_LOSS, ZK.OPERATION_TIMEOUT, ZK.SESSION_EXPIRED, ZK.SESSION_MOVED];

export function isOutcomeUnknown(err: unknown): err is ZkError {
  return err instanceof ZkError && UNKNOWN_OUTCOME.includes(err.code);
}

export function unavailable(connect: string, reason: string): UnavailableError {
  return new UnavailableError(
    `ZooKeeper ensemble ${connect} is unavailable (${reason}); check that a majority of its nodes run and ` +
      'are reachable from this host (scripts/zookeeper.sh starts one for development), then retry',
    { backend: 'zookeeper', connect },
  );
}

/** Translates anything a ZooKeeper call threw; `meaning` applies when the error carries none. */
export function toDistciError(err: unknown, connect: string, meaning?: Meaning): Error {
  if (err instanceof DistciError || !(err instanceof ZkError)) return err as Error;
  if (UNKNOWN_OUTCOME.includes(err.code)) return unavailable(connect, err.codeName.toLowerCase().replace(/_/g, ' '));
  const m = err.meaning ?? meaning;
  switch (m?.what) {
    case 'ticket':
      if (err.code === ZK.NO_NODE) return new NotFoundError('ticket', m.id);
      break;
    case 'fence':
      if (err.code === ZK.NO_NODE || err.code === ZK.BAD_VERSION) {
        return new LeaseLostError(m.ticketId, m.token, 'the ticket was leased again, completed or released since');
      }
      break;
    case 'record':
      if (err.code === ZK.NO_NODE || err.code === ZK.NODE_EXISTS || err.code === ZK.BAD_VERSION) {
        return new ConflictError(
          `record '${m.key}' is not at version ${m.expectedVersion}: someone else changed it; read it again and reapply your change`,
          { key: m.key, expectedVersion: m.expectedVersion },
        );
      }
      break;
    case 'lock':
    case 'counter':
    case 'internal':
    case undefined:
      break;
  }
  return new DistciError('internal', `unexpected ZooKeeper answer: ${err.message}`, {
    backend: 'zookeeper',
    zkCode: err.codeName,
    ...(err.path ? { path: err.path } : {}),
  });
}
