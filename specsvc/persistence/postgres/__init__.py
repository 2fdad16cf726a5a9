"""Everything PostgreSQL: the event store and read models over eventsourcing-sqlalchemy,
advisory locks for the projection worker, and LISTEN/NOTIFY for projected positions."""
