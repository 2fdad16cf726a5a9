"""Settings of the service. Each field declares, once, its flag, meaning and defaults.

A field ``max_spec_bytes`` is the flag ``--max-spec-bytes`` and the environment variable
``SPECSVC_MAX_SPEC_BYTES``. The command line builds its options from these declarations
(``specsvc.cli.options``) and the README's configuration table is generated from them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import Field, dataclass, field, fields, replace
from typing import Any

TRUE_WORDS = frozenset({"1", "true", "yes", "on", "y", "t"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", "n", "f", ""})
PREFIX = "SPECSVC_"

# Which commands take a setting: every command that opens a store, or the server only.
STORE = ("serve", "operator", "status")
SERVER = ("serve",)


def setting(
    default: Any,
    meaning: str,
    *,
    cli_default: Any = None,
    choices: tuple[str, ...] | None = None,
    commands: tuple[str, ...] = SERVER,
) -> Any:
    """A settings field; ``cli_default`` is the command line's default when it differs
    from the Python API's (``specsvc serve`` stores in ``specs.db``, the API in memory)."""
    return field(
        default=default,
        metadata={
            "meaning": meaning,
            "cli_default": default if cli_default is None else cli_default,
            "choices": choices,
            "commands": commands,
        },
    )


@dataclass(frozen=True)
class Settings:
    """``db`` is a SQLite file path, or None for a private in-memory store."""

    db: str | None = setting(
        None,
        "SQLite file of the event store; projections live beside it in `NAME.projections.db`",
        cli_default="specs.db",
        commands=STORE,
    )
    database_url: str | None = setting(
        None,
        "PostgreSQL event store, `postgresql://USER@HOST:PORT/DB`; when set, `--db` is not"
        " used, `serve` runs no projections and `specsvc project` runs them",
        commands=(*STORE, "project", "migrate"),
    )
    cipher_key_file: str | None = setting(
        None,
        "file holding a base64 AES key (16, 24 or 32 bytes): event and snapshot states,"
        " stored content and kept answers are encrypted with it (see Encryption at rest)",
        commands=(*STORE, "project", "migrate"),
    )
    redis_url: str | None = setting(
        None,
        "Redis query cache for published content and spec reads, `redis://HOST:PORT/N`;"
        " off when unset",
        commands=("serve", "project"),
    )
    chain_key_file: str | None = setting(
        None,
        "file of the hash chain's key (32+ random bytes, base64: `openssl rand -base64 32`):"
        " events are chained with HMAC-SHA-256 under it (unset: SHA-256); fixed per store",
        commands=(*STORE, "project", "migrate"),
    )
    checkpoint_key_file: str | None = setting(
        None,
        "Ed25519 key (PEM) of `verify --checkpoint` (private key: signs) and `verify"
        " --against` (public or private key: checks); unset: the chain key signs them",
        commands=("operator",),
    )
    startup_check_events: int = setting(
        10000,
        "events at the end of the log whose hash chain `serve` and `project` check before"
        " they start (and every event after the newest checkpoint); 0: none",
        commands=("serve", "project"),
    )
    consistency_timeout: float = setting(
        5.0,
        "seconds a read waits for the read models to reach the position it needs before"
        " answering `Unavailable`",
    )
    health_addr: str | None = setting(
        None,
        "`HOST:PORT` of the projection worker's /healthz, /readyz and /metrics",
        commands=("project",),
    )
    rest_addr: str | None = setting(
        None, "REST listener, `HOST:PORT` (port 0 picks a free one)", cli_default="127.0.0.1:8080"
    )
    grpc_addr: str | None = setting(
        None,
        "gRPC listener, `HOST:PORT` (package `specsvc.v1`, service `SpecService`, with health"
        " and reflection); off when unset",
    )
    auth_tokens_file: str | None = setting(
        None, "YAML file of bearer-token digests (see Authentication)"
    )
    jwt_key_file: str | None = setting(None, "HS256 secret (≥ 32 bytes) or RS256 public key (PEM)")
    jwt_algorithm: str = setting(
        "RS256", "the one JWT algorithm accepted", choices=("HS256", "RS256")
    )
    jwt_issuer: str | None = setting(None, "required `iss` claim of JWTs")
    jwt_audience: str | None = setting(None, "required `aud` claim of JWTs")
    four_eyes: bool = setting(False, "nobody may publish a version they wrote")
    max_spec_bytes: int = setting(
        2048, "largest accepted spec, in UTF-8 bytes", commands=("serve", "validate")
    )
    max_request_bytes: int = setting(65536, "largest accepted request body, in bytes")
    max_evaluate_bytes: int = setting(
        16384, "largest input an evaluation accepts, in UTF-8 bytes of its JSON"
    )
    max_concurrent_evaluations: int = setting(
        2, "evaluations run at once per process; more answer `Unavailable` at once"
    )
    types_dir: str | None = setting(
        None,
        "folder of extra spec types (`TYPE.json` / `TYPE.yaml` JSON Schemas)",
        commands=("serve", "status", "validate"),
    )
    threads: int = setting(16, "request-handling threads per API")
    workers: int = setting(
        1,
        "API processes that share the listening ports and the store (one master passes"
        " SIGTERM, SIGINT and SIGHUP on to them); 0: one per core",
        cli_default=0,
    )
    max_watchers: int = setting(128, "WatchEvents streams open at once, in all")
    max_watchers_per_principal: int = setting(
        16, "WatchEvents streams one principal may hold open at once"
    )
    max_connections: int = setting(
        2000,
        "open REST connections at most; past it new ones wait (put a reverse proxy in front"
        " of an internet-facing server)",
    )
    request_header_timeout: float = setting(
        10.0, "seconds a client has to send a request's headers before it is disconnected"
    )
    request_body_timeout: float = setting(
        30.0, "seconds a client has to send a whole request before it is disconnected"
    )
    sqlite_lock_timeout: int = setting(
        10,
        "seconds a writer waits for the SQLite lock before answering `Unavailable`",
        commands=STORE,
    )
    projection_poll_interval: float | None = setting(
        None, "seconds between polls for commits made by other processes", cli_default=1.0
    )
    idempotency_retention: float = setting(
        24.0, "hours an idempotency key and its answer are kept", commands=("serve",)
    )
    log_level: str = setting("INFO", "logging level", commands=("serve", "project"))
    log_format: str = setting(
        "auto",
        "`json` lines, readable `text`, or `auto` (text on a terminal)",
        choices=("auto", "json", "text"),
        commands=("serve", "project"),
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read ``SPECSVC_<FIELD>`` variables; keyword overrides win."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for option in cls.options():
            raw = environ.get(variable(option))
            if raw is not None:
                values[option.name] = convert(option, raw)
        return replace(cls(**values), **overrides)

    @classmethod
    def options(cls, command: str | None = None) -> Iterator[Field[Any]]:
        """The fields, in declaration order; with ``command``, only those it takes."""
        for option in fields(cls):
            if command is None or command in option.metadata["commands"]:
                yield option


def flag(option: Field[Any]) -> str:
    return "--" + option.name.replace("_", "-")


def variable(option: Field[Any]) -> str:
    return PREFIX + option.name.upper()


def kind(option: Field[Any]) -> str:
    """``bool``, ``int``, ``float`` or ``str``: what the field holds when it is set."""
    text = str(option.type)
    return next((k for k in ("bool", "int", "float") if text.startswith(k)), "str")


def convert(option: Field[Any], raw: str) -> Any:
    """A variable's text as the field's type; ValueError names the variable."""
    text = raw.strip()
    try:
        match kind(option):
            case "bool":
                return _boolean(text)
            case "int":
                return int(text)
            case "float":
                return float(text) if text else None
    except ValueError:
        raise ValueError(
            f"{variable(option)}={raw!r} is not a valid {kind(option)}"
        ) from None
    return text or None


def _boolean(text: str) -> bool:
    word = text.lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(word)
