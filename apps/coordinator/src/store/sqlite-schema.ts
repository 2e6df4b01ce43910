import { PollenError } from '@pollen/fl-core';
import type Database from 'better-sqlite3';

/**
 * The SQLite schema as numbered migrations: step i is applied once, in order, and the file's
 * `PRAGMA user_version` records the last one applied. Never edit a released step; add the
 * next one. Step 1 is the schema files had before they were numbered (user_version 0): its
 * `IF NOT EXISTS` makes it a no-op on such a file and the full schema on a new one.
 */
export const SQLITE_MIGRATIONS: readonly string[] = [
  `
CREATE TABLE IF NOT EXISTS tasks (
  id TEXT PRIMARY KEY,
  spec TEXT NOT NULL,
  weight_spec TEXT NOT NULL,
  status TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  current_version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS model_versions (
  task_id TEXT NOT NULL REFERENCES tasks(id),
  version INTEGER NOT NULL,
  round_id INTEGER,
  created_at INTEGER NOT NULL,
  weights BLOB NOT NULL,
  accuracy REAL,
  loss REAL,
  PRIMARY KEY (task_id, version)
);
CREATE TABLE IF NOT EXISTS rounds (
  task_id TEXT NOT NULL REFERENCES tasks(id),
  round_id INTEGER NOT NULL,
  status TEXT NOT NULL,
  record TEXT NOT NULL,
  PRIMARY KEY (task_id, round_id)
);
CREATE TABLE IF NOT EXISTS strategy_state (
  task_id TEXT PRIMARY KEY REFERENCES tasks(id),
  version INTEGER NOT NULL,
  config TEXT NOT NULL,
  state BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS privacy_ledger (
  task_id TEXT PRIMARY KEY REFERENCES tasks(id),
  version INTEGER NOT NULL,
  ledger TEXT,
  clip_norm REAL,
  exhausted TEXT
);
CREATE TABLE IF NOT EXISTS fences (
  task_id TEXT PRIMARY KEY,
  token INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS clients (
  client_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  shard INTEGER NOT NULL,
  first_seen INTEGER NOT NULL,
  PRIMARY KEY (client_id, task_id)
);
`,
  // Named metrics: a version's held-out evaluation and a round record's held-out and client
  // metrics become `{ loss, ...metrics }` maps instead of fixed accuracy and loss fields.
  // json_patch('{}', obj) drops obj's null members (RFC 7396), so a missing accuracy stays out.
  `
ALTER TABLE model_versions ADD COLUMN metrics TEXT;
UPDATE model_versions SET metrics = CASE
  WHEN loss IS NULL THEN NULL
  ELSE json_patch('{}', json_object('loss', loss, 'accuracy', accuracy))
END;
ALTER TABLE model_versions DROP COLUMN accuracy;
ALTER TABLE model_versions DROP COLUMN loss;
UPDATE rounds SET record = json_set(
  json_remove(record, '$.accuracy', '$.loss'),
  '$.metrics',
  CASE
    WHEN json_type(record, '$.loss') IN ('integer', 'real')
      THEN json_patch('{}', json_object('loss', json_extract(record, '$.loss'), 'accuracy', json_extract(record, '$.accuracy')))
    ELSE json('null')
  END,
  '$.clientMetrics',
  (
    SELECT json_group_array(json_set(
      json_remove(value, '$.loss', '$.accuracy'),
      '$.metrics',
      json_patch('{}', json_object('loss', json_extract(value, '$.loss'), 'accuracy', json_extract(value, '$.accuracy')))
    ))
    FROM json_each(record, '$.clientMetrics')
  )
);
`,
  // A client id is bound to the SHA-256 of its device's secret on first sight (identity).
  `
CREATE TABLE IF NOT EXISTS client_identities (
  client_id TEXT PRIMARY KEY,
  secret_hash TEXT NOT NULL,
  first_seen INTEGER NOT NULL
);
`,
  // 4: a task's uploaded held-out examples (PUT /api/tasks/:id/held-out), one set per task.
  `
CREATE TABLE held_out (
  task_id TEXT PRIMARY KEY REFERENCES tasks(id),
  count INTEGER NOT NULL,
  data BLOB NOT NULL,
  digest TEXT NOT NULL,
  uploaded_at INTEGER NOT NULL
);
`,
  // 5: federated evaluation rounds (task evaluation.federated), one record per round.
  `
CREATE TABLE evaluation_rounds (
  task_id TEXT NOT NULL REFERENCES tasks(id),
  evaluation_id INTEGER NOT NULL,
  status TEXT NOT NULL,
  record TEXT NOT NULL,
  PRIMARY KEY (task_id, evaluation_id)
);
`,
];

/**
 * Bring a SQLite file up to date, each step and its version number in one transaction. A file
 * written by a newer Pollen (a higher user_version) is refused rather than misread.
 */
export function migrateSqlite(db: Database.Database): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > SQLITE_MIGRATIONS.length) {
    throw new PollenError(
      'INTERNAL',
      `the store is at schema version ${current}, newer than this coordinator's ${SQLITE_MIGRATIONS.length}`,
    );
  }
  for (let v = current + 1; v <= SQLITE_MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(SQLITE_MIGRATIONS[v - 1]!);
      db.pragma(`user_version = ${v}`);
    })();
  }
}
