/**
 * The PostgreSQL schema as numbered migrations: step i is applied once, in order, and recorded
 * in `pollen_migrations`. Never edit a released step; add the next one.
 */
export const MIGRATIONS: readonly string[] = [
  `
CREATE TABLE tasks (
  id TEXT PRIMARY KEY,
  spec TEXT NOT NULL,
  weight_spec TEXT NOT NULL,
  status TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  current_version INTEGER NOT NULL
);
CREATE TABLE model_versions (
  task_id TEXT NOT NULL REFERENCES tasks(id),
  version INTEGER NOT NULL,
  round_id INTEGER,
  created_at BIGINT NOT NULL,
  weights BYTEA NOT NULL,
  accuracy DOUBLE PRECISION,
  loss DOUBLE PRECISION,
  PRIMARY KEY (task_id, version)
);
CREATE TABLE rounds (
  task_id TEXT NOT NULL REFERENCES tasks(id),
  round_id INTEGER NOT NULL,
  status TEXT NOT NULL,
  record TEXT NOT NULL,
  PRIMARY KEY (task_id, round_id)
);
CREATE INDEX rounds_open ON rounds (task_id) WHERE status = 'open';
CREATE TABLE strategy_state (
  task_id TEXT PRIMARY KEY REFERENCES tasks(id),
  version INTEGER NOT NULL,
  config TEXT NOT NULL,
  state BYTEA NOT NULL
);
CREATE TABLE privacy_ledger (
  task_id TEXT PRIMARY KEY REFERENCES tasks(id),
  version INTEGER NOT NULL,
  ledger TEXT,
  clip_norm DOUBLE PRECISION,
  exhausted TEXT
);
CREATE TABLE clients (
  client_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  shard INTEGER NOT NULL,
  first_seen BIGINT NOT NULL,
  PRIMARY KEY (client_id, task_id)
);
CREATE TABLE fences (
  task_id TEXT PRIMARY KEY,
  token BIGINT NOT NULL
);
`,
  // 2: a client id is bound to the SHA-256 of its device's secret on first sight (identity).
  `
CREATE TABLE client_identities (
  client_id TEXT PRIMARY KEY,
  secret_hash TEXT NOT NULL,
  first_seen BIGINT NOT NULL
);
`,
  // 3: named metrics: a version's held-out evaluation and a round record's held-out and client
  // metrics become `{ loss, ...metrics }` maps instead of fixed accuracy and loss fields.
  // jsonb_strip_nulls drops a missing accuracy rather than storing it as null.
  `
ALTER TABLE model_versions ADD COLUMN metrics TEXT;
UPDATE model_versions SET metrics = CASE
  WHEN loss IS NULL THEN NULL
  ELSE jsonb_strip_nulls(jsonb_build_object('loss', loss, 'accuracy', accuracy))::text
END;
ALTER TABLE model_versions DROP COLUMN accuracy, DROP COLUMN loss;
UPDATE rounds SET record = (
  (old.r - 'accuracy' - 'loss' - 'clientMetrics')
  || jsonb_build_object(
    'metrics',
    CASE
      WHEN jsonb_typeof(old.r -> 'loss') = 'number'
        THEN jsonb_strip_nulls(jsonb_build_object('loss', old.r -> 'loss', 'accuracy', old.r -> 'accuracy'))
      ELSE 'null'::jsonb
    END,
    'clientMetrics',
    COALESCE(
      (
        SELECT jsonb_agg(
          (e.c - 'loss' - 'accuracy')
            || jsonb_build_object('metrics', jsonb_strip_nulls(jsonb_build_object('loss', e.c -> 'loss', 'accuracy', e.c -> 'accuracy')))
          ORDER BY e.i
        )
        FROM jsonb_array_elements(old.r -> 'clientMetrics') WITH ORDINALITY AS e(c, i)
      ),
      '[]'::jsonb
    )
  )
)::text
FROM (SELECT task_id, round_id, record::jsonb AS r FROM rounds) AS old
WHERE rounds.task_id = old.task_id AND rounds.round_id = old.round_id;
`,
  // 4: a task's uploaded held-out examples (PUT /api/tasks/:id/held-out), one set per task.
  `
CREATE TABLE held_out (
  task_id TEXT PRIMARY KEY REFERENCES tasks(id),
  count INTEGER NOT NULL,
  data BYTEA NOT NULL,
  digest TEXT NOT NULL,
  uploaded_at BIGINT NOT NULL
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
