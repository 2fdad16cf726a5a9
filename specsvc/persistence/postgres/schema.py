"""SQL for the tables this service adds to eventsourcing-sqlalchemy's PostgreSQL tables.

Columns are in the same order as the SQLite backend's, so dumps compare row for row;
names sort by their bytes (COLLATE "C"), as SQLite sorts them.
"""

EVENT_STORE_TABLES = [
    "CREATE TABLE IF NOT EXISTS spec_timeline ("
    "spec_id TEXT NOT NULL, sequence BIGINT NOT NULL, position BIGINT NOT NULL,"
    " timestamp BIGINT NOT NULL, content_version BIGINT, PRIMARY KEY (spec_id, sequence))",
    "CREATE INDEX IF NOT EXISTS spec_timeline_by_version"
    " ON spec_timeline (spec_id, content_version)",
    "CREATE INDEX IF NOT EXISTS spec_timeline_by_time ON spec_timeline (spec_id, timestamp)",
    "CREATE TABLE IF NOT EXISTS idempotency_keys ("
    "principal TEXT NOT NULL, key TEXT NOT NULL, request_sha256 TEXT NOT NULL,"
    " answer TEXT NOT NULL, position BIGINT NOT NULL, recorded_at BIGINT NOT NULL,"
    " PRIMARY KEY (principal, key))",
    "CREATE INDEX IF NOT EXISTS idempotency_keys_by_time ON idempotency_keys (recorded_at)",
    "CREATE TABLE IF NOT EXISTS store_identity (id TEXT NOT NULL)",
]

READ_MODEL_TABLES = [
    "CREATE TABLE IF NOT EXISTS spec_summaries ("
    'id TEXT PRIMARY KEY, name TEXT COLLATE "C" NOT NULL UNIQUE, type TEXT NOT NULL,'
    " state TEXT NOT NULL, version BIGINT NOT NULL, published_version BIGINT,"
    " content_sha256 TEXT NOT NULL, created_at BIGINT NOT NULL, created_by TEXT NOT NULL,"
    " updated_at BIGINT NOT NULL, updated_by TEXT NOT NULL, revision BIGINT NOT NULL,"
    " published_at BIGINT, row_hash TEXT)",
    "CREATE INDEX IF NOT EXISTS spec_summaries_by_state ON spec_summaries (state, name)",
    "CREATE INDEX IF NOT EXISTS spec_summaries_by_type ON spec_summaries (type, name)",
    "CREATE TABLE IF NOT EXISTS spec_versions ("
    "spec_id TEXT NOT NULL, version BIGINT NOT NULL, sequence BIGINT NOT NULL,"
    " content TEXT NOT NULL, content_sha256 TEXT NOT NULL, size BIGINT NOT NULL,"
    " created_at BIGINT NOT NULL, created_by TEXT NOT NULL, reason TEXT, row_hash TEXT,"
    " PRIMARY KEY (spec_id, version))",
    "CREATE TABLE IF NOT EXISTS audit_log ("
    "position BIGINT PRIMARY KEY, spec_id TEXT NOT NULL, spec TEXT NOT NULL,"
    " sequence BIGINT NOT NULL, event TEXT NOT NULL, timestamp BIGINT NOT NULL,"
    " actor TEXT NOT NULL, correlation_id TEXT NOT NULL, reason TEXT, version BIGINT,"
    " from_state TEXT, to_state TEXT, published_version BIGINT, row_hash TEXT)",
    "CREATE INDEX IF NOT EXISTS audit_log_by_spec ON audit_log (spec_id, sequence)",
    "CREATE INDEX IF NOT EXISTS audit_log_by_actor ON audit_log (actor, position)",
    "CREATE INDEX IF NOT EXISTS audit_log_by_time ON audit_log (timestamp)",
    "CREATE TABLE IF NOT EXISTS read_model_binding ("
    "one INTEGER PRIMARY KEY CHECK (one = 1), store_id TEXT NOT NULL)",
]

# Announced, with the position, in every projection transaction: listeners hear it when
# the transaction commits, never before.
PROJECTED_CHANNEL = "specsvc_projected"
