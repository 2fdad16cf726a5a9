"""Settings of the service: each one a flag of ``specsvc`` and a ``SPECSVC_*`` variable."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

TRUE_WORDS = frozenset({"1", "true", "yes", "on", "y", "t"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", "n", "f", ""})


@dataclass(frozen=True)
class Settings:
    """``db`` is a SQLite file path, or None for a private in-memory store."""

    db: str | None = None
    max_spec_bytes: int = 2048
    types_dir: str | None = None
    four_eyes: bool = False
    sqlite_lock_timeout: int = 10
    projection_poll_interval: float | None = None
    auth_tokens_file: str | None = None
    jwt_key_file: str | None = None
    jwt_algorithm: str = "RS256"
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    rest_addr: str | None = None
    grpc_addr: str | None = None
    max_request_bytes: int = 65536
    threads: int = 16
    log_level: str = "INFO"
    log_format: str = "auto"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read ``SPECSVC_<FIELD>`` variables; keyword overrides win."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field in fields(cls):
            raw = environ.get(f"SPECSVC_{field.name.upper()}")
            if raw is not None:
                values[field.name] = _convert(field.name, raw, field.type)
        return replace(cls(**values), **overrides)


def _convert(name: str, raw: str, kind: Any) -> Any:
    text = raw.strip()
    try:
        if "bool" in str(kind):
            return _boolean(text)
        if str(kind).startswith("int"):
            return int(text)
        if str(kind).startswith("float"):
            return float(text) if text else None
    except ValueError:
        raise ValueError(f"SPECSVC_{name.upper()}={raw!r} is not a valid {kind}") from None
    return text or None


def _boolean(text: str) -> bool:
    word = text.lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(word)
