"""The SQL the recorders of every backend share: one statement, named parameters.

Tables are created by each backend in its own dialect; what reads and writes rows is
written once here, in SQL that SQLite and PostgreSQL both accept, so the read models
and the timeline mean the same on either store.
"""

from __future__ import annotations

import hashlib
import hmac
from abc import abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.persistence import IntegrityError, StoredEvent

from specsvc.persistence.chain import Chain
from specsvc.persistence.interfaces import (
    EPOCH,
    EventQuery,
    EventRow,
    ReadModelAltered,
    RememberedAnswer,
    SpecReadModelRecorder,
    SpecTimelineRecorder,
    SummaryQuery,
    TableDump,
    TimelineEntry,
    from_micros,
    to_micros,
)
from specsvc.persistence.sealing import PLAIN, ContentSealer

T = TypeVar("T")
# Rows sent to the database in one round trip when a whole log is copied.
COPY_CHUNK = 500

# --- the event store's own tables ---------------------------------------------------------

INSERT_TIMELINE = (
    "INSERT INTO spec_timeline (spec_id, sequence, position, timestamp, content_version)"
    " VALUES (:spec_id, :sequence, :position, :timestamp, :content_version)"
)
POSITION_OF = "SELECT position FROM spec_timeline WHERE spec_id=:spec_id AND sequence=:sequence"
LAST_POSITION = (
    "SELECT position FROM spec_timeline WHERE spec_id=:spec_id ORDER BY sequence DESC LIMIT 1"
)
SEQUENCE_OF_VERSION = (
    "SELECT MIN(sequence) FROM spec_timeline WHERE spec_id=:spec_id AND content_version=:version"
)
SEQUENCE_AT = (
    "SELECT MAX(sequence) FROM spec_timeline WHERE spec_id=:spec_id AND timestamp<=:moment"
)
RECALL = (
    "SELECT request_sha256, answer, position, recorded_at FROM idempotency_keys"
    " WHERE principal=:principal AND key=:key AND recorded_at>=:since"
)
REMEMBERED = (
    "SELECT principal, key, request_sha256, answer, position, recorded_at FROM idempotency_keys"
    " ORDER BY principal, key"
)
FORGET_EXPIRED = "DELETE FROM idempotency_keys WHERE recorded_at < :cutoff"
REMEMBER = (
    "INSERT INTO idempotency_keys (principal, key, request_sha256, answer, position,"
    " recorded_at) VALUES (:principal, :key, :request_sha256, :answer, :position, :recorded_at)"
)
TIMELINE_COLUMNS = (
    "SELECT spec_id, sequence, position, timestamp, content_version FROM spec_timeline"
)
TIMELINE_FROM_START = f"{TIMELINE_COLUMNS} ORDER BY spec_id, sequence LIMIT :limit"
TIMELINE_AFTER = (
    f"{TIMELINE_COLUMNS} WHERE (spec_id, sequence) > (:spec_id, :sequence)"
    " ORDER BY spec_id, sequence LIMIT :limit"
)
PROJECTED_COUNTS = (
    "SELECT COUNT(*), COALESCE(SUM(CASE WHEN sequence = 1 THEN 1 ELSE 0 END), 0),"
    " COUNT(content_version) FROM spec_timeline WHERE position <= :upto"
)
STORE_ID = "SELECT id FROM store_identity"
ADOPT_STORE_ID = "UPDATE store_identity SET id = :id"
NEW_STORE_ID = (
    "INSERT INTO store_identity (id) SELECT :id WHERE NOT EXISTS (SELECT 1 FROM store_identity)"
)


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """``items`` in lists of ``size`` (the last may be shorter), read lazily."""
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def timeline_params(entry: TimelineEntry, position: int) -> dict[str, Any]:
    return {
        "spec_id": entry.spec_id.hex,
        "sequence": entry.sequence,
        "position": position,
        "timestamp": to_micros(entry.timestamp),
        "content_version": entry.content_version,
    }


def timeline_rows(
    stored_events: Sequence[StoredEvent], positions: Sequence[int], timeline: list[TimelineEntry]
) -> list[dict[str, Any]]:
    """The timeline rows of the spec events just inserted at ``positions``."""
    by_key = {(e.spec_id.hex, e.sequence): e for e in timeline}
    rows = []
    for stored, position in zip(stored_events, positions, strict=True):
        entry = by_key.get((UUID(str(stored.originator_id)).hex, stored.originator_version))
        if entry is not None:
            rows.append(timeline_params(entry, position))
    return rows


def kept_answer_params(answer: RememberedAnswer) -> dict[str, Any]:
    """An answer copied from another store, at the position it was kept with there."""
    assert answer.position is not None, "a kept answer names its position"
    return answer_params(answer, answer.position)


def answer_params(answer: RememberedAnswer, position: int) -> dict[str, Any]:
    return {
        "principal": answer.principal,
        "key": answer.key,
        "request_sha256": answer.request_sha256,
        "answer": answer.answer,
        "position": position,
        "recorded_at": to_micros(answer.recorded_at),
    }


def spec_key(spec_id: UUID) -> str:
    """How the event store's own tables name a spec."""
    return spec_id.hex


# --- the read models -------------------------------------------------------------------------

# Each read-model table and its key: dumps are ordered by it, rebuilds compare rows by it.
READ_MODEL_KEYS: dict[str, tuple[str, ...]] = {
    "spec_summaries": ("id",),
    "spec_versions": ("spec_id", "version"),
    "audit_log": ("position",),
}
SUMMARY_COLUMNS = (
    "id, name, type, state, version, published_version, content_sha256, created_at,"
    " created_by, updated_at, updated_by, revision, published_at"
)
VERSION_COLUMNS = "version, sequence, content_sha256, size, created_at, created_by, reason"
AUDIT_COLUMNS = (
    "position, spec, sequence, event, timestamp, actor, correlation_id, reason, version,"
    " from_state, to_state, published_version"
)
TIME_COLUMNS = ("created_at", "updated_at", "published_at", "timestamp")
# What each row's hash covers (docs/behaviour.md, Tamper evidence): every column but the
# content, which its content_sha256 covers, so listings check rows without reading it.
HASHED: dict[str, tuple[str, ...]] = {
    "spec_summaries": tuple(c.strip() for c in SUMMARY_COLUMNS.split(",")),
    "spec_versions": ("spec_id", *(c.strip() for c in VERSION_COLUMNS.split(","))),
    "audit_log": (*(c.strip() for c in AUDIT_COLUMNS.split(",")), "spec_id"),
}
_KEYS = {
    "spec_summaries": "id=:spec_id",
    "spec_versions": "spec_id=:spec_id AND version=:version",
    "audit_log": "position=:position",
}
SET_HASH = {t: f"UPDATE {t} SET row_hash=:row_hash WHERE {_KEYS[t]}" for t in HASHED}
UNHASHED = {t: f"SELECT {', '.join(HASHED[t])} FROM {t} WHERE row_hash IS NULL" for t in HASHED}


# Where SET_HASH's key parameters are among a table's HASHED columns.
_KEY_COLUMNS = {
    "spec_summaries": {"spec_id": HASHED["spec_summaries"].index("id")},
    "spec_versions": {k: HASHED["spec_versions"].index(k) for k in ("spec_id", "version")},
    "audit_log": {"position": HASHED["audit_log"].index("position")},
}


def key_params(table: str, values: Sequence[Any]) -> dict[str, Any]:
    """The key of a row read with its HASHED columns, as SET_HASH names it."""
    return {name: values[index] for name, index in _KEY_COLUMNS[table].items()}


_CREATED = (
    "INSERT INTO spec_summaries (" + SUMMARY_COLUMNS + ") VALUES (:spec_id, :name, :type,"
    " 'draft', 1, NULL, :content_sha256, :timestamp, :actor, :timestamp, :actor, :sequence, NULL)"
)
_UPDATED = (
    "UPDATE spec_summaries SET version=:version, content_sha256=:content_sha256,"
    " updated_at=:timestamp, updated_by=:actor, revision=:sequence WHERE id=:spec_id"
)
_VERSION = (
    "INSERT INTO spec_versions (spec_id, version, sequence, content, content_sha256, size,"
    " created_at, created_by, reason, row_hash) VALUES (:spec_id, :version, :sequence,"
    " :content, :content_sha256, :size, :timestamp, :actor, :reason, :row_hash)"
)
# Where _VERSION takes each column its hash covers: a version row is written once, from
# its event alone, so its hash is made from what is inserted (no read back).
_VERSION_HASHED = tuple(
    {"created_at": "timestamp", "created_by": "actor"}.get(c, c) for c in HASHED["spec_versions"]
)
# The summaries a batch wrote are read back for hashing (every event of a spec rewrites
# its summary), this many per statement (a replay's batch touches hundreds).
SUMMARIES_AT_ONCE = 100
SUMMARIES_HASH_SOURCE = (
    f"SELECT {', '.join(HASHED['spec_summaries'])} FROM spec_summaries WHERE id IN "
)
# An audit row takes its spec's name, and the version of a state change, from the
# spec's summary as the events before it left it: ``project`` follows the summaries
# through a batch (read once for specs the batch did not create) and inserts each audit
# row whole, with its hash.
_AUDIT = (
    f"INSERT INTO audit_log ({', '.join(HASHED['audit_log'])}, row_hash) VALUES"
    f" ({', '.join(':' + column for column in HASHED['audit_log'])}, :row_hash)"
)
_SUMMARY_NAMES = "SELECT id, name, version FROM spec_summaries WHERE id IN "
_AUDIT_FROM_EVENT = tuple(column for column in HASHED["audit_log"] if column != "spec")
_STATE_CHANGED = (
    "UPDATE spec_summaries SET state=:to_state, published_version=:published_version,"
    " published_at=CASE WHEN :to_state='published' THEN :timestamp ELSE published_at END,"
    " updated_at=:timestamp, updated_by=:actor, revision=:sequence WHERE id=:spec_id"
)


def projection(row: EventRow, position: int) -> list[tuple[str, dict[str, Any]]]:
    """The statements, in order, that project one event into the read models."""
    params = {
        **row.__dict__,
        "spec_id": str(row.spec_id),
        "timestamp": to_micros(row.timestamp),
        "size": None if row.content is None else len(row.content.encode("utf-8")),
        "position": position,
    }
    statements = []
    if row.event == "SpecCreated":
        statements.append(_CREATED)
    elif row.event == "SpecUpdated":
        statements.append(_UPDATED)
    if row.content is not None:
        statements.append(_VERSION)
    statements.append(_AUDIT)
    if row.event == "SpecStateChanged":
        statements.append(_STATE_CHANGED)
    return [(statement, params) for statement in statements]


def _audit_row(params: dict[str, Any], summary: list[Any] | None) -> dict[str, Any]:
    """The audit row of one event (``summary``: its spec's name and version so far; a
    spec without one leaves the row's name NULL, which the table refuses)."""
    name, version = (None, None) if summary is None else summary
    row = {column: params[column] for column in _AUDIT_FROM_EVENT}
    row["spec"] = name
    if row["version"] is None:
        row["version"] = version
    return row


def summaries(query: SummaryQuery) -> tuple[str, dict[str, Any]]:
    clauses = ["state=:state" if query.state else "state<>'deleted'"]
    params: dict[str, Any] = {"state": query.state, "limit": query.limit}
    if query.type:
        clauses.append("type=:type")
        params["type"] = query.type
    if query.name_prefix:
        # Names are ASCII below 0x7f, so this range is exactly "starts with" and uses the
        # index (names sort by their bytes on every backend).
        clauses.append("name>=:prefix AND name<:prefix_end")
        params.update(prefix=query.name_prefix, prefix_end=query.name_prefix + "\x7f")
    if query.after_name:
        clauses.append("name>:after")
        params["after"] = query.after_name
    where = " AND ".join(clauses)
    return (
        f"SELECT {SUMMARY_COLUMNS}, row_hash FROM spec_summaries WHERE {where}"
        " ORDER BY name LIMIT :limit",
        params,
    )


SUMMARY = f"SELECT {SUMMARY_COLUMNS}, row_hash FROM spec_summaries WHERE id=:spec_id"
# One query for the hottest read: the summary joined with its published version, with
# what both rows' hashes cover (the version's columns as v_*).
PUBLISHED = (
    "SELECT "
    + ", ".join(f"s.{c}" for c in (*HASHED["spec_summaries"], "row_hash"))
    + ", "
    + ", ".join(f"v.{c} AS v_{c}" for c in (*HASHED["spec_versions"], "row_hash"))
    + ", v.content FROM spec_summaries s LEFT JOIN spec_versions v"
    " ON v.spec_id = s.id AND v.version = s.published_version WHERE s.id=:spec_id"
)
VERSION = (
    f"SELECT spec_id, {VERSION_COLUMNS}, content, row_hash FROM spec_versions"
    " WHERE spec_id=:spec_id AND version=:version"
)
VERSIONS = (
    f"SELECT spec_id, {VERSION_COLUMNS}, row_hash FROM spec_versions WHERE spec_id=:spec_id"
    " ORDER BY version"
)
HISTORY = (
    f"SELECT {AUDIT_COLUMNS}, spec_id, row_hash FROM audit_log WHERE spec_id=:spec_id"
    " ORDER BY sequence"
)
MAX_POSITION = "SELECT MAX(position) AS position FROM audit_log"


def audit(query: EventQuery) -> tuple[str, dict[str, Any]]:
    clauses = ["position>:after"]
    params: dict[str, Any] = {"after": query.after, "limit": query.limit}
    for clause, name, value in (
        ("actor=:actor", "actor", query.actor),
        ("spec_id=:spec_id", "spec_id", query.spec_id and str(query.spec_id)),
        ("timestamp>=:since", "since", query.since and to_micros(query.since)),
        ("timestamp<=:until", "until", query.until and to_micros(query.until)),
    ):
        if value is not None:
            clauses.append(clause)
            params[name] = value
    where = " AND ".join(clauses)
    return (
        f"SELECT {AUDIT_COLUMNS}, spec_id, row_hash FROM audit_log WHERE {where}"
        " ORDER BY position LIMIT :limit",
        params,
    )


def decoded(row: dict[str, Any]) -> dict[str, Any]:
    """A read-model row as the service uses it: instants as datetimes."""
    for column in TIME_COLUMNS:
        if row.get(column) is not None:
            row[column] = from_micros(row[column])
    return row


# --- the queries, over each backend's way of running one statement -------------------------


class TimelineQueries(SpecTimelineRecorder):
    """The event store's own reads, for a backend that can fetch rows."""

    @abstractmethod
    def _fetch_all(self, statement: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Every row ``statement`` selects, in a read-only transaction."""

    def _fetch_one(self, statement: str, params: dict[str, Any]) -> tuple[Any, ...] | None:
        # Every statement read this way selects one row at most.
        rows = self._fetch_all(statement, params)
        return rows[0] if rows else None

    def _scalar(self, statement: str, params: dict[str, Any]) -> Any:
        row = self._fetch_one(statement, params)
        return None if row is None else row[0]

    def store_id(self) -> str:
        return str(self._scalar(STORE_ID, {}))

    def select_timeline(
        self, after: tuple[UUID, int] | None, limit: int
    ) -> list[tuple[int, TimelineEntry]]:
        if after is None:
            rows = self._fetch_all(TIMELINE_FROM_START, {"limit": limit})
        else:
            params = {"spec_id": after[0].hex, "sequence": after[1], "limit": limit}
            rows = self._fetch_all(TIMELINE_AFTER, params)
        return [
            (position, TimelineEntry(UUID(spec), sequence, from_micros(micros), version))
            for spec, sequence, position, micros, version in rows
        ]

    def position_of(self, spec_id: UUID, sequence: int) -> int | None:
        return self._scalar(POSITION_OF, {"spec_id": spec_id.hex, "sequence": sequence})

    def last_position(self, spec_id: UUID) -> int | None:
        return self._scalar(LAST_POSITION, {"spec_id": spec_id.hex})

    def projected_counts(self, upto: int) -> dict[str, int]:
        row = self._fetch_one(PROJECTED_COUNTS, {"upto": upto})
        events, specs, versions = row or (0, 0, 0)
        return {
            "spec_summaries": int(specs),
            "spec_versions": int(versions),
            "audit_log": int(events),
        }

    def sequence_of_version(self, spec_id: UUID, content_version: int) -> int | None:
        return self._scalar(
            SEQUENCE_OF_VERSION, {"spec_id": spec_id.hex, "version": content_version}
        )

    def sequence_at(self, spec_id: UUID, moment: datetime) -> int | None:
        return self._scalar(SEQUENCE_AT, {"spec_id": spec_id.hex, "moment": to_micros(moment)})

    def recall(self, principal: str, key: str, since: datetime) -> RememberedAnswer | None:
        params = {"principal": principal, "key": key, "since": to_micros(since)}
        row = self._fetch_one(RECALL, params)
        if row is None:
            return None
        digest, answer, position, recorded = row
        moment = from_micros(recorded)
        return RememberedAnswer(principal, key, digest, answer, moment, since, position)

    def remembered(self) -> list[RememberedAnswer]:
        return [
            RememberedAnswer(principal, key, digest, answer, from_micros(recorded), EPOCH, position)
            for principal, key, digest, answer, position, recorded in self._fetch_all(
                REMEMBERED, {}
            )
        ]


# Executes a statement in a transaction and returns the rows it selects; with a list of
# parameters, executes it once for each (and returns no rows).
Run = Callable[[str, dict[str, Any] | list[dict[str, Any]]], Sequence[Sequence[Any]]]


def not_next(leader: str, after: int, tracked: int) -> IntegrityError:
    """Why a batch meant to follow position ``after`` of ``leader`` is refused."""
    return IntegrityError(f"{leader} is projected to {tracked}, not {after}")


def already_projected(leader: str, first: int, last: int) -> IntegrityError:
    """Why a batch from ``first`` to ``last`` of ``leader`` is refused as a whole."""
    span = f"{first}" if last <= first else f"{first}-{last}"
    return IntegrityError(f"position {span} of {leader} is already projected")


class ReadModelQueries(SpecReadModelRecorder):
    """The read models' queries, for a backend that can fetch rows as dicts.

    Content is stored sealed by ``content_sealer`` (set by the backend's factory when the
    store is encrypted) and opened as it is read. Every row carries a hash by ``chain``
    (bound by the factory, with the event store's chain key), written in the projection
    transaction and checked whenever the row is read: a row changed on disk raises
    ReadModelAltered instead of being served."""

    content_sealer: ContentSealer = PLAIN
    chain: Chain = Chain()

    @abstractmethod
    def _rows(self, statement: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """The rows ``statement`` selects, as stored, in a read-only transaction."""

    @abstractmethod
    def stored_tables(self) -> dict[str, TableDump]:
        """Every read-model row as stored (content sealed), ordered: for copying."""

    def projection_statements(
        self, row: EventRow, position: int
    ) -> list[tuple[str, dict[str, Any]]]:
        """The statements that project one event, its content sealed."""
        statements = projection(row, position)
        if row.content is not None and self.content_sealer is not PLAIN:
            sealed = self.content_sealer.seal(row.content)
            for _, params in statements:
                params["content"] = sealed
        return statements

    def project(self, run: Run, batch: Sequence[tuple[int, EventRow | None]]) -> None:
        """Project consecutive events (positions in order, with their rows, None where an
        event changes no read model) with ``run`` (which executes a statement in the
        projection transaction and returns the rows it selects), then hash the rows they
        wrote, each once, as the last of them left it: the hashes projecting them one at
        a time would leave (a summary is rewritten by every event of its spec)."""
        positions: list[int] = []
        specs: dict[str, None] = {}  # whose summaries were written, in order
        new_versions = []
        audits = []
        summaries = self._names_and_versions(run, batch)
        for position, row in batch:
            if row is None:
                continue
            for statement, params in self.projection_statements(row, position):
                if statement is _VERSION:
                    new_versions.append(params)
                    continue
                if statement is _AUDIT:
                    audits.append(_audit_row(params, summaries.get(params["spec_id"])))
                    continue
                if statement is _CREATED:
                    summaries[params["spec_id"]] = [params["name"], 1]
                elif statement is _UPDATED and params["spec_id"] in summaries:
                    summaries[params["spec_id"]][1] = params["version"]
                run(statement, params)
            specs[str(row.spec_id)] = None
            positions.append(position)
        if not positions:
            return
        for audit in audits:
            audit["row_hash"] = self.chain.row_hash(
                "audit_log", [audit[column] for column in HASHED["audit_log"]]
            )
        run(_AUDIT, audits)
        # No projection statement reads spec_versions: its rows go in together, last.
        if new_versions:
            for params in new_versions:
                values = [params[name] for name in _VERSION_HASHED]
                params["row_hash"] = self.chain.row_hash("spec_versions", values)
            run(_VERSION, new_versions)
        hashes: dict[str, list[dict[str, Any]]] = {table: [] for table in HASHED}
        written = list(specs)
        for start in range(0, len(written), SUMMARIES_AT_ONCE):
            chunk = written[start : start + SUMMARIES_AT_ONCE]
            names = [f"s{n}" for n in range(len(chunk))]
            statement = SUMMARIES_HASH_SOURCE + f"({', '.join(':' + name for name in names)})"
            params = dict(zip(names, chunk, strict=True))
            hashes["spec_summaries"] += self._hashes(run, "spec_summaries", params, statement)
        for table, keyed in hashes.items():
            if keyed:
                run(SET_HASH[table], keyed)

    @staticmethod
    def _names_and_versions(
        run: Run, batch: Sequence[tuple[int, EventRow | None]]
    ) -> dict[str, list[Any]]:
        """The name and version of each spec of ``batch`` that it does not create, as its
        summary stands before the batch."""
        specs = {str(r.spec_id) for _, r in batch if r is not None}
        created = {str(r.spec_id) for _, r in batch if r is not None and r.event == "SpecCreated"}
        wanted = list(specs - created)
        found: dict[str, list[Any]] = {}
        for start in range(0, len(wanted), SUMMARIES_AT_ONCE):
            chunk = wanted[start : start + SUMMARIES_AT_ONCE]
            names = [f"s{n}" for n in range(len(chunk))]
            statement = _SUMMARY_NAMES + f"({', '.join(':' + name for name in names)})"
            for spec_id, name, version in run(statement, dict(zip(names, chunk, strict=True))):
                found[str(spec_id)] = [name, version]
        return found

    def _hashes(
        self, run: Run, table: str, params: dict[str, Any], statement: str
    ) -> list[dict[str, Any]]:
        """The keys and new hashes of the rows of ``table`` that ``statement`` selects."""
        return [
            {**key_params(table, values), "row_hash": self.chain.row_hash(table, values)}
            for values in run(statement, params)
        ]

    def hash_unhashed(self, run: Run) -> int:
        """Hash the rows written before rows had hashes (once, on upgrade): how many."""
        done = 0
        for table in HASHED:
            for values in run(UNHASHED[table], {}):
                params = key_params(table, values)
                run(SET_HASH[table], {**params, "row_hash": self.chain.row_hash(table, values)})
                done += 1
        return done

    def _checked(self, table: str, row: dict[str, Any], prefix: str = "") -> None:
        values = [row[prefix + column] for column in HASHED[table]]
        stored = row.pop(prefix + "row_hash")
        expected = self.chain.row_hash(table, values)
        if stored is None or not hmac.compare_digest(str(stored), expected):
            raise self._altered(table, row, prefix, "does not match its hash")

    @staticmethod
    def _altered(table: str, row: dict[str, Any], prefix: str, what: str) -> ReadModelAltered:
        spec = row.get(prefix + ("id" if table == "spec_summaries" else "spec_id"))
        sequence = row.get(prefix + ("revision" if table == "spec_summaries" else "sequence"))
        position = row.get("position") if table == "audit_log" else None
        where = {
            "spec_summaries": f"summary of spec {spec}",
            "spec_versions": f"version {row.get(prefix + 'version')} of spec {spec}",
            "audit_log": f"audit row at position {position}",
        }[table]
        return ReadModelAltered(f"the read models' {where} {what}", spec, sequence, position)

    def _with_content(self, table: str, row: dict[str, Any], prefix: str = "") -> None:
        """Open the row's content and check it against the content_sha256 its hash covers."""
        row["content"] = self.content_sealer.open(row["content"])
        digest = hashlib.sha256(row["content"].encode("utf-8")).hexdigest()
        if digest != row[prefix + "content_sha256"]:
            raise self._altered(table, row, prefix, "holds content that does not match it")

    def _hashed(self, table: str, statement: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        rows = self._rows(statement, params)
        for row in rows:
            self._checked(table, row)
        return rows

    def dump_tables(self) -> dict[str, TableDump]:
        return {table: self._opened_dump(dump) for table, dump in self.stored_tables().items()}

    def _opened_dump(self, dump: TableDump) -> TableDump:
        if "content" not in dump.columns or self.content_sealer is PLAIN:
            return dump
        at = dump.columns.index("content")
        rows = [(*row[:at], self._opened_or_not(row[at]), *row[at + 1 :]) for row in dump.rows]
        return TableDump(dump.columns, rows, dump.key_width)

    def _opened_or_not(self, sealed: str) -> str:
        # A dump is compared with a rebuild: content that does not decrypt (changed on
        # disk) is a difference to report, not a reason to stop comparing.
        try:
            return self.content_sealer.open(sealed)
        except ValueError:
            return "(stored content that does not decrypt)"

    def select_summaries(self, query: SummaryQuery) -> list[dict[str, Any]]:
        return [decoded(r) for r in self._hashed("spec_summaries", *summaries(query))]

    def select_summary(self, spec_id: UUID) -> dict[str, Any] | None:
        rows = self._hashed("spec_summaries", SUMMARY, {"spec_id": str(spec_id)})
        return decoded(rows[0]) if rows else None

    def select_published(self, spec_id: UUID) -> dict[str, Any] | None:
        rows = self._hashed("spec_summaries", PUBLISHED, {"spec_id": str(spec_id)})
        if not rows:
            return None
        row = rows[0]
        if row["published_version"] is not None:
            if row["v_version"] is None:
                version = row["published_version"]
                raise ReadModelAltered(
                    f"the read models lack version {version} of spec {row['id']}, published",
                    row["id"],
                    version=version,
                )
            self._checked("spec_versions", row, "v_")
            self._with_content("spec_versions", row, "v_")
        for column in (*HASHED["spec_versions"], "row_hash"):
            row.pop("v_" + column, None)
        return decoded(row)

    def select_version(self, spec_id: UUID, version: int) -> dict[str, Any] | None:
        rows = self._hashed("spec_versions", VERSION, {"spec_id": str(spec_id), "version": version})
        if not rows:
            return None
        self._with_content("spec_versions", rows[0])
        return decoded(_without(rows[0], "spec_id"))

    def select_versions(self, spec_id: UUID) -> list[dict[str, Any]]:
        rows = self._hashed("spec_versions", VERSIONS, {"spec_id": str(spec_id)})
        _gapless("spec_versions", rows, "version")
        return [decoded(_without(r, "spec_id")) for r in rows]

    def select_audit(self, query: EventQuery) -> list[dict[str, Any]]:
        rows = self._hashed("audit_log", *audit(query))
        return [decoded(_without(r, "spec_id")) for r in rows]

    def select_history(self, spec_id: UUID) -> list[dict[str, Any]]:
        rows = self._hashed("audit_log", HISTORY, {"spec_id": str(spec_id)})
        _gapless("audit_log", rows, "sequence")
        return [decoded(_without(r, "spec_id")) for r in rows]

    def max_position(self) -> int:
        rows = self._rows(MAX_POSITION, {})
        return int(rows[0]["position"] or 0) if rows else 0


def _without(row: dict[str, Any], column: str) -> dict[str, Any]:
    del row[column]
    return row


def _gapless(table: str, rows: list[dict[str, Any]], column: str) -> None:
    """ReadModelAltered unless a spec's ``rows`` number ``column`` 1, 2, 3... (a spec's
    versions and its events are numbered without gaps, so a gap is a deleted row)."""
    for expected, row in enumerate(rows, start=1):
        if row[column] != expected:
            noun = "version" if column == "version" else "event"
            raise ReadModelAltered(
                f"the read models' {table} rows of spec {row['spec_id']} lack {noun} {expected}",
                row["spec_id"],
                expected if column == "sequence" else None,
                version=expected if column == "version" else None,
            )
