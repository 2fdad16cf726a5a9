"""Everything SQLite: durable connections, recorders, read model, schema, backup, swap."""
