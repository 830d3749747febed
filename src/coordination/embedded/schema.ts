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

/** 2: fair share — tickets carry their share; a route is (kind, labels, priority, share). */
const SCHEMA_VERSION = 2;

const DDL = `
CREATE TABLE IF NOT EXISTS tickets (
  seq              INTEGER PRIMARY KEY AUTOINCREMENT,
  kind             TEXT    NOT NULL,
  route            TEXT    NOT NULL,
  share            TEXT    NOT NULL DEFAULT '',
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
-- The head of a route: its oldest pending ticket (the priority is part of the route).
CREATE INDEX IF NOT EXISTS tickets_pending_by_route ON tickets (route, seq) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS tickets_leased ON tickets (lease_expires_at) WHERE status = 'leased';
CREATE INDEX IF NOT EXISTS tickets_claim_id ON tickets (claim_id) WHERE claim_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS tickets_by_job ON tickets (job, seq) WHERE job IS NOT NULL;
-- Purging: done tickets by when they ended.
CREATE INDEX IF NOT EXISTS tickets_done ON tickets (updated_at) WHERE status = 'done';

-- One row per queue — (kind, label set, priority, share) — kept by triggers: its pending
-- count, its head (oldest pending ticket) and the turn at which its share was last
-- served. A claim walks routes_claim in order — priority, least recently served share,
-- oldest head — and takes the first route whose labels the worker offers: one index walk
-- over queues that have work, never a scan of tickets, whatever the number of jobs.
CREATE TABLE IF NOT EXISTS routes (
  route    TEXT PRIMARY KEY,
  kind     TEXT    NOT NULL,
  labels   TEXT    NOT NULL,
  priority INTEGER NOT NULL,
  share    TEXT    NOT NULL,
  pending  INTEGER NOT NULL DEFAULT 0,
  head_seq INTEGER,
  served   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS routes_claim ON routes (kind, priority DESC, served, head_seq) WHERE pending > 0;
CREATE INDEX IF NOT EXISTS routes_by_share ON routes (share, served);

CREATE TRIGGER IF NOT EXISTS routes_on_insert AFTER INSERT ON tickets WHEN NEW.status = 'pending'
BEGIN
  INSERT INTO routes (route, kind, labels, priority, share, pending, head_seq, served)
  VALUES (NEW.route, NEW.kind, NEW.labels, NEW.priority, NEW.share, 1, NEW.seq,
          COALESCE((SELECT MAX(served) FROM routes WHERE share = NEW.share), 0))
  ON CONFLICT (route) DO UPDATE SET pending = pending + 1,
    head_seq = CASE WHEN pending = 0 OR head_seq IS NULL THEN excluded.head_seq ELSE MIN(head_seq, excluded.head_seq) END;
END;
CREATE TRIGGER IF NOT EXISTS routes_on_leave AFTER UPDATE OF status ON tickets
  WHEN OLD.status = 'pending' AND NEW.status <> 'pending'
BEGIN
  UPDATE routes SET pending = pending - 1,
    head_seq = CASE WHEN head_seq = OLD.seq
      THEN (SELECT MIN(seq) FROM tickets WHERE route = OLD.route AND status = 'pending') ELSE head_seq END
  WHERE route = OLD.route;
END;
CREATE TRIGGER IF NOT EXISTS routes_on_return AFTER UPDATE OF status ON tickets
  WHEN OLD.status <> 'pending' AND NEW.status = 'pending'
BEGIN
  UPDATE routes SET pending = pending + 1,
    head_seq = CASE WHEN pending = 0 OR head_seq IS NULL THEN NEW.seq ELSE MIN(head_seq, NEW.seq) END
  WHERE route = NEW.route;
END;
CREATE TRIGGER IF NOT EXISTS routes_on_delete AFTER DELETE ON tickets WHEN OLD.status = 'pending'
BEGIN
  UPDATE routes SET pending = pending - 1,
    head_seq = CASE WHEN head_seq = OLD.seq
      THEN (SELECT MIN(seq) FROM tickets WHERE route = OLD.route AND status = 'pending') ELSE head_seq END
  WHERE route = OLD.route;
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
    if (version === 1) fromVersion1(db);
    db.exec(DDL);
    if (version === 1) rebuildRoutes(db);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}

/**
 * Version 1 had one queue per (kind, labels) and no shares: give every ticket its share
 * (its job) and its new route, and drop the old routes so the DDL creates the new ones.
 */
function fromVersion1(db: Database.Database): void {
  db.exec(`
    ALTER TABLE tickets ADD COLUMN share TEXT NOT NULL DEFAULT '';
    UPDATE tickets SET share = COALESCE(job, ''), route = route || '|' || priority || '|' || COALESCE(job, '');
    DROP TRIGGER routes_on_insert; DROP TRIGGER routes_on_leave; DROP TRIGGER routes_on_return; DROP TRIGGER routes_on_delete;
    DROP INDEX tickets_pending;
    DROP TABLE routes;
  `);
}

function rebuildRoutes(db: Database.Database): void {
  db.exec(`INSERT INTO routes (route, kind, labels, priority, share, pending, head_seq)
    SELECT route, kind, labels, priority, share, COUNT(*), MIN(seq) FROM tickets WHERE status = 'pending' GROUP BY route`);
}
