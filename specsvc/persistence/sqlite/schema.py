"""SQL for the tables this service adds to the library's SQLite recorders."""

TIMELINE_TABLE = [
    "CREATE TABLE IF NOT EXISTS spec_timeline ("
    "spec_id TEXT NOT NULL, sequence INTEGER NOT NULL, position INTEGER NOT NULL,"
    " timestamp INTEGER NOT NULL, content_version INTEGER,"
    " PRIMARY KEY (spec_id, sequence)) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS spec_timeline_by_version"
    " ON spec_timeline (spec_id, content_version)",
    "CREATE INDEX IF NOT EXISTS spec_timeline_by_time ON spec_timeline (spec_id, timestamp)",
]

# Answers kept under idempotency keys, in the event store: a key is kept exactly when its
# events are. Expired rows are deleted as new ones are written.
IDEMPOTENCY_TABLE = [
    "CREATE TABLE IF NOT EXISTS idempotency_keys ("
    "principal TEXT NOT NULL, key TEXT NOT NULL, request_sha256 TEXT NOT NULL,"
    " answer TEXT NOT NULL, position INTEGER NOT NULL, recorded_at INTEGER NOT NULL,"
    " PRIMARY KEY (principal, key)) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS idempotency_keys_by_time ON idempotency_keys (recorded_at)",
]

# The event store's identity, made once when its tables are created (copies keep it).
IDENTITY_TABLE = "CREATE TABLE IF NOT EXISTS store_identity (id TEXT NOT NULL)"


# Which event store the read models were built from: one row.
BINDING_TABLE = (
    "CREATE TABLE IF NOT EXISTS read_model_binding ("
    "one INTEGER PRIMARY KEY CHECK (one = 1), store_id TEXT NOT NULL)"
)

READ_MODEL_TABLES = [
    "CREATE TABLE IF NOT EXISTS spec_summaries ("
    "id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, type TEXT NOT NULL,"
    " state TEXT NOT NULL, version INTEGER NOT NULL, published_version INTEGER,"
    " content_sha256 TEXT NOT NULL, created_at INTEGER NOT NULL, created_by TEXT NOT NULL,"
    " updated_at INTEGER NOT NULL, updated_by TEXT NOT NULL, revision INTEGER NOT NULL,"
    " published_at INTEGER, row_hash TEXT)",
    "CREATE INDEX IF NOT EXISTS spec_summaries_by_state ON spec_summaries (state, name)",
    "CREATE INDEX IF NOT EXISTS spec_summaries_by_type ON spec_summaries (type, name)",
    "CREATE TABLE IF NOT EXISTS spec_versions ("
    "spec_id TEXT NOT NULL, version INTEGER NOT NULL, sequence INTEGER NOT NULL,"
    " content TEXT NOT NULL, content_sha256 TEXT NOT NULL, size INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL, created_by TEXT NOT NULL, reason TEXT, row_hash TEXT,"
    " PRIMARY KEY (spec_id, version)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS audit_log ("
    "position INTEGER PRIMARY KEY, spec_id TEXT NOT NULL, spec TEXT NOT NULL,"
    " sequence INTEGER NOT NULL, event TEXT NOT NULL, timestamp INTEGER NOT NULL,"
    " actor TEXT NOT NULL, correlation_id TEXT NOT NULL, reason TEXT, version INTEGER,"
    " from_state TEXT, to_state TEXT, published_version INTEGER, row_hash TEXT)",
    "CREATE INDEX IF NOT EXISTS audit_log_by_spec ON audit_log (spec_id, sequence)",
    "CREATE INDEX IF NOT EXISTS audit_log_by_actor ON audit_log (actor, position)",
    "CREATE INDEX IF NOT EXISTS audit_log_by_time ON audit_log (timestamp)",
]
