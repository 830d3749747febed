import type Database from 'better-sqlite3';

/**
 * PRAGMAs measured in shared/notes/sqlite-embedded.md: WAL lets readers run beside the one
 * writer; synchronous=NORMAL loses no acknowledged commit on a process crash (only on
 * power loss); checkpoints run on our own timer, not inside some unlucky COMMIT.
 */
export function applyPragmas(db: Database.Database): void {
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  db.pragma('journal_size_limit = 67108864');
  db.pragma('wal_autocheckpoint = 0');
  db.pragma('foreign_keys = ON');
}

const SCHEMA_VERSION = 1;

const DDL = `
CREATE TABLE IF NOT EXISTS tickets (
  seq              INTEGER PRIMARY KEY AUTOINCREMENT,
  kind             TEXT    NOT NULL,
  route            TEXT    NOT NULL,
  labels           TEXT    NOT NULL,
  payload          TEXT    NOT NULL,
  job              TEXT,
  build            INTEGER,
  step             TEXT,
  priority         INTEGER NOT NULL,
  status           TEXT    NOT NULL CHECK (status IN ('pending', 'leased', 'done')),
  attempt          INTEGER NOT NULL DEFAULT 0,
  max_attempts     INTEGER NOT NULL,
  lease_holder     TEXT,
  lease_token      INTEGER NOT NULL DEFAULT 0,
  lease_expires_at INTEGER,
  claim_id         TEXT,
  result           TEXT,
  completed_token  INTEGER,
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  follow_up        TEXT,
  history          TEXT    NOT NULL DEFAULT '[]',
  idempotency_key  TEXT UNIQUE,
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL
);
-- The claim path: one short index walk per route, only over pending tickets.
CREATE INDEX IF NOT EXISTS tickets_pending ON tickets (route, priority DESC, seq) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS tickets_leased ON tickets (lease_expires_at) WHERE status = 'leased';
CREATE INDEX IF NOT EXISTS tickets_claim_id ON tickets (claim_id) WHERE claim_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS tickets_by_job ON tickets (job, seq) WHERE job IS NOT NULL;

-- One row per (kind, label set) with its pending count, kept by triggers, so a claim
-- looks only at queues that have work instead of scanning tickets.
CREATE TABLE IF NOT EXISTS routes (
  route   TEXT PRIMARY KEY,
  kind    TEXT NOT NULL,
  labels  TEXT NOT NULL,
  pending INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS routes_by_kind ON routes (kind) WHERE pending > 0;

CREATE TRIGGER IF NOT EXISTS routes_on_insert AFTER INSERT ON tickets WHEN NEW.status = 'pending'
BEGIN
  INSERT INTO routes (route, kind, labels, pending) VALUES (NEW.route, NEW.kind, NEW.labels, 1)
  ON CONFLICT (route) DO UPDATE SET pending = pending + 1;
END;
CREATE TRIGGER IF NOT EXISTS routes_on_leave AFTER UPDATE OF status ON tickets
  WHEN OLD.status = 'pending' AND NEW.status <> 'pending'
BEGIN
  UPDATE routes SET pending = pending - 1 WHERE route = OLD.route;
END;
CREATE TRIGGER IF NOT EXISTS routes_on_return AFTER UPDATE OF status ON tickets
  WHEN OLD.status <> 'pending' AND NEW.status = 'pending'
BEGIN
  UPDATE routes SET pending = pending + 1 WHERE route = NEW.route;
END;
CREATE TRIGGER IF NOT EXISTS routes_on_delete AFTER DELETE ON tickets WHEN OLD.status = 'pending'
BEGIN
  UPDATE routes SET pending = pending - 1 WHERE route = OLD.route;
END;

CREATE TABLE IF NOT EXISTS counters (
  name  TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
  key     TEXT PRIMARY KEY,
  value   TEXT NOT NULL,
  version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS locks (
  name       TEXT PRIMARY KEY,
  holder     TEXT NOT NULL,
  expires_at INTEGER NOT NULL
);
`;

export function migrate(db: Database.Database): void {
  db.transaction(() => {
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new Error(
        `coordinator database schema ${version} is newer than this distci (${SCHEMA_VERSION}); upgrade distci`,
      );
    }
    db.exec(DDL);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}
