"""Operator commands on the store's files (same host), with or without a server running."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from specsvc.cli.common import EXIT_DIFFERENCES, add_command
from specsvc.cli.io import Progress, UsageError, open_input, print_json
from specsvc.cli.options import add_setting_options, settings_from
from specsvc.cli.render import rebuild_lines

# Handlers import the composition root and the operator tasks themselves, so that the
# client commands, which share this parser, start without loading them.
COMMANDS = {
    "backup": "a consistent online copy of the store and its projections",
    "export": "every stored event as JSON Lines, in log order",
    "import": "an export into an EMPTY store, verified event by event afterwards",
    "verify": "check the hash chain, every snapshot, the timeline and the read models",
    "rebuild-projections": "rebuild the read models and swap them in (safe while serving)",
    "migrate": "copy a SQLite store into an EMPTY PostgreSQL database, then verify the copy",
}
EXAMPLES = {
    "backup": ["specsvc backup /backups/specs-$(date +%F).db --db specs.db"],
    "export": ["specsvc export --db specs.db > events.jsonl", "specsvc export --output e.jsonl"],
    "import": ["specsvc import events.jsonl --db restored.db"],
    "verify": [
        "specsvc verify --db specs.db",
        "specsvc verify --db specs.db --checkpoint /mnt/offsite/specs-$(date +%F).json",
        "specsvc verify --db specs.db --against /mnt/offsite/specs-2026-12-01.json",
    ],
    "rebuild-projections": ["specsvc rebuild-projections --db specs.db"],
    "migrate": [
        "specsvc migrate --from specs.db --to postgresql://specsvc@db.internal:5432/specs",
        "SPECSVC_DATABASE_URL=postgresql://specsvc@db:5432/specs specsvc migrate --from specs.db",
        "specsvc migrate --from specs.db --to postgresql://specsvc@db:5432/specs --verify-only",
    ],
}


def add_operator_commands(commands: Any, options: Any) -> None:
    """Register the operator commands; each takes ``--db`` (SPECSVC_DB), but ``migrate``,
    which takes ``--from`` and ``--to``."""
    parsers = {
        name: add_command(commands, name, summary, EXAMPLES[name], [options])
        for name, summary in COMMANDS.items()
    }
    for name, parser in parsers.items():
        if name != "migrate":  # its one setting, --database-url, is its --to
            add_setting_options(parser, "operator")
        parser.set_defaults(handler=HANDLERS[name])
    parsers["backup"].add_argument(
        "dest", metavar="DEST", help="new file (its folder is created); must not exist"
    )
    parsers["backup"].add_argument(
        "--force", action="store_true", help="replace DEST (and its projections) if it exists"
    )
    parsers["export"].add_argument("--output", metavar="FILE", help="default: standard output")
    parsers["import"].add_argument("file", metavar="FILE", help="an export; '-' reads stdin")
    parsers["verify"].add_argument(
        "--checkpoint",
        metavar="FILE",
        help="after a clean verify, write the signed head of the log (position, chain hash,"
        " time) to FILE; keep it off this host",
    )
    parsers["verify"].add_argument(
        "--against",
        metavar="FILE",
        help="also prove the log still extends the head a checkpoint FILE recorded"
        " (detects truncation and a rewritten chain)",
    )
    _add_migrate_options(parsers["migrate"])


def _add_migrate_options(parser: argparse.ArgumentParser) -> None:
    # The target is the --database-url setting, under the name that reads as a direction.
    parser.add_argument(
        "--from",
        dest="source",
        required=True,
        metavar="SQLITE_PATH",
        help="the SQLite event store file to copy (its projections file beside it)",
    )
    parser.add_argument(
        "--to",
        dest="database_url",
        default=argparse.SUPPRESS,
        metavar="POSTGRES_URL",
        help="postgresql://USER@HOST:PORT/DB: an existing database holding no store yet"
        " (env SPECSVC_DATABASE_URL)",
    )
    parser.add_argument(
        "--verify-only",
        action="store_true",
        help="copy nothing: compare an earlier copy with its source",
    )


@contextmanager
def _store(
    args: argparse.Namespace, *, maintenance: bool = False, create: bool = False
) -> Iterator[Any]:
    """The started store the options name: an existing one unless ``create``."""
    from specsvc import bootstrap

    settings = settings_from(args, "operator")
    role = bootstrap.Role.MAINTENANCE if maintenance else bootstrap.Role.TOOL
    store = bootstrap.start(settings, role) if create else bootstrap.open_existing(settings, role)
    try:
        yield store
    finally:
        store.service.close()


def _db(args: argparse.Namespace) -> str:
    return str(settings_from(args, "operator").db)


def _backup(args: argparse.Namespace) -> int:
    from specsvc.persistence.sqlite.backup import backup

    with Progress() as progress:
        report = backup(_db(args), args.dest, progress, force=args.force)
    lines = [f"{f['source']} -> {f['path']}: {f['bytes']} bytes" for f in report["files"]]
    lines.append(f"{report['events']} events, last position {report['position']}")
    return _show(args, report, lines)


def _export(args: argparse.Namespace) -> int:
    from specsvc.operator import export_events

    with _store(args, maintenance=True) as store:  # before --output creates a file
        if args.output is None:
            with Progress() as progress:
                export_events(store.application.recorder, sys.stdout.buffer, progress)
            return 0
        try:
            out = open(args.output, "wb")  # noqa: SIM115 - closed by the with below
        except OSError as error:
            raise UsageError(f"cannot write {args.output}: {error.strerror or error}") from None
        with out, Progress() as progress:
            count = export_events(store.application.recorder, out, progress)
    return _show(args, {"events": count, "output": args.output}, [f"{count} events exported"])


def _import(args: argparse.Namespace) -> int:
    from specsvc.operator import import_events, parse_records

    with open_input(args.file) as lines:
        records = parse_records(lines)  # all of it checked before a store is created
    with Progress() as progress, _store(args, create=True) as store:
        report = {"db": _db(args), **import_events(store, records, progress)}
    summary = f"{report['events']} events of {report['specs']} specs imported into {_db(args)}"
    return _verdict(args, report, summary)


def _verify(args: argparse.Namespace) -> int:
    from specsvc.operator import verify_store
    from specsvc.operator.checkpoint import Signer, check_against, read_checkpoint, take

    settings = settings_from(args, "operator")
    signer = Signer(settings.checkpoint_key_file, settings.chain_key_file)
    against = None if args.against is None else read_checkpoint(args.against)
    with Progress() as progress, _store(args) as store:
        head = None if against is None else (against.position, against.digest)
        report = {"db": _db(args), **verify_store(store, progress, head)}
        if against is not None:
            report["checkpoint"] = check_against(store, against, signer, report)
        if args.checkpoint is not None and not report["differences"]:
            report["checkpoint_written"] = take(store, args.checkpoint, signer)
    summary = f"{report['specs']} specs, {report['events']} events checked"
    if "checkpoint" in report:
        summary += f"; the log extends the checkpoint at position {against.position}"  # type: ignore[union-attr]
    if "checkpoint_written" in report:
        written = report["checkpoint_written"]
        summary += f"; checkpoint at position {written['position']} written to {args.checkpoint}"
    return _verdict(args, report, summary)


def _rebuild(args: argparse.Namespace) -> int:
    from specsvc.operator import rebuild_read_models

    with Progress() as progress, _store(args, maintenance=True) as store:
        report = {"db": _db(args), **rebuild_read_models(store, progress)}
    return _show(args, report, rebuild_lines(report))


def _migrate(args: argparse.Namespace) -> int:
    from specsvc import bootstrap
    from specsvc.application import store_errors
    from specsvc.operator import copy_differences, migrate_store

    source, target = _migration_settings(args)
    opened = bootstrap.open_existing if args.verify_only else bootstrap.start
    with (
        store_errors(),  # a target that cannot be reached is Unavailable (exit 7)
        Progress() as progress,
        _started(bootstrap.open_existing(source, bootstrap.Role.TOOL)) as original,
        _started(opened(target, bootstrap.Role.TOOL)) as copy,
    ):
        if args.verify_only:
            report = copy_differences(original, copy, progress)
        else:
            report = migrate_store(original, copy, progress)
    shown = bootstrap.postgres().shown(str(target.database_url))
    report = {"from": source.db, "to": shown, **report}
    done = "compared" if args.verify_only else "copied"
    summary = f"{report['events']} events of {report['specs']} specs {done}: {source.db} -> {shown}"
    if "seconds" in report:
        summary += f" ({report['events_per_second']} events/s)"
    return _verdict(args, report, summary)


def _migration_settings(args: argparse.Namespace) -> tuple[Any, Any]:
    """The source's settings (its SQLite file) and the target's (its PostgreSQL URL)."""
    from dataclasses import replace

    settings = settings_from(args, "migrate")
    if "://" in args.source:
        raise UsageError(
            f"--from takes the path of a SQLite store file, not a URL ({args.source.split(':')[0]}"
            "://...): migrate copies a SQLite store into PostgreSQL, not the other way"
        )
    url = settings.database_url
    if not url:
        raise UsageError(
            "--to postgresql://USER@HOST:PORT/DB is required (or SPECSVC_DATABASE_URL)"
        )
    if not url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        raise UsageError(f"--to takes a postgresql://USER@HOST:PORT/DB URL, not {url!r}")
    return replace(settings, db=args.source, database_url=None), settings


@contextmanager
def _started(store: Any) -> Iterator[Any]:
    try:
        yield store
    finally:
        store.service.close()


HANDLERS = {
    "backup": _backup,
    "export": _export,
    "import": _import,
    "verify": _verify,
    "rebuild-projections": _rebuild,
    "migrate": _migrate,
}


def _verdict(args: argparse.Namespace, report: dict[str, Any], summary: str) -> int:
    differences = report["differences"]
    verdict = f"{len(differences)} differences" if differences else "no differences"
    _show(args, report, [*differences, f"{summary}: {verdict}"])
    return EXIT_DIFFERENCES if differences else 0


def _show(args: argparse.Namespace, report: dict[str, Any], lines: list[str]) -> int:
    if args.json_output:
        print_json(report)
    else:
        print("\n".join(lines))
    return 0
