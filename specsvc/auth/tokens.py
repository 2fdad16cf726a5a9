"""Opaque bearer tokens, kept in a YAML file by their SHA-256 only.

See docs/behaviour.md, Authentication and roles.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml

from specsvc.auth.roles import Principal, parse_roles, principal_problem

logger = logging.getLogger(__name__)

TOKEN_PREFIX = "sst_"
ENTRY_KEYS = frozenset({"principal", "sha256", "roles"})
DIGEST = re.compile(r"[0-9a-f]{64}")


def sha256_hex(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> tuple[str, str]:
    """A fresh random token and its SHA-256 hex digest, the only part to store."""
    # The prefix makes leaked tokens easy to recognise (secret scanners, logs).
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, sha256_hex(token)


def token_entry(name: str, roles: Sequence[str], digest: str) -> str:
    """The YAML text of one entry to paste under ``tokens:`` in the tokens file."""
    entry = {"principal": name, "sha256": digest, "roles": list(dict.fromkeys(roles))}
    _check_entry(entry)
    # safe_dump quotes whatever would not read back as a string (an all-digit digest).
    return yaml.safe_dump([entry], sort_keys=False, default_flow_style=None)


class TokenStore:
    """The principals of a tokens file; ``entries`` are its ``tokens`` list items."""

    def __init__(self, entries: Iterable[Any], *, source: str = "<memory>"):
        self._entries: list[tuple[str, Principal]] = []
        # One principal may hold several tokens (rotation), but a digest names only one.
        seen: dict[str, int] = {}
        for index, raw in enumerate(entries):
            try:
                digest, principal = _check_entry(raw)
                if digest in seen:
                    raise ValueError(f"same sha256 as tokens[{seen[digest]}]")
            except ValueError as error:
                raise ValueError(f"{source}: tokens[{index}]: {error}") from None
            seen[digest] = index
            self._entries.append((digest, principal))

    @classmethod
    def from_file(cls, path: str | Path) -> TokenStore:
        """Load and strictly check a tokens file; ValueError names the bad entry."""
        try:
            document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except yaml.YAMLError as error:
            raise ValueError(f"{path}: not valid YAML: {error}") from None
        if not isinstance(document, dict) or set(document) != {"tokens"}:
            raise ValueError(f"{path}: expected a mapping with only a 'tokens' list")
        if not isinstance(document["tokens"], list):
            raise ValueError(f"{path}: 'tokens' must be a list")
        return cls(document["tokens"], source=str(path))

    def __len__(self) -> int:
        return len(self._entries)

    def authenticate(self, token: str) -> Principal | None:
        """The principal holding ``token``, or None."""
        digest = sha256_hex(token)
        # Compare against every entry, never stopping at a match, so timing does not
        # reveal which entry (or whether any) matched.
        matches = [p for stored, p in self._entries if hmac.compare_digest(stored, digest)]
        return matches[0] if matches else None


def _check_entry(raw: Any) -> tuple[str, Principal]:
    if not isinstance(raw, dict):
        raise ValueError("must be a mapping with principal, sha256 and roles")
    if set(raw) != ENTRY_KEYS:
        raise ValueError(f"keys must be exactly {sorted(ENTRY_KEYS)}, not {sorted(map(str, raw))}")
    name, digest = raw["principal"], raw["sha256"]
    problem = principal_problem(name)
    if problem is not None:
        raise ValueError(f"principal {problem}")
    if not isinstance(digest, str) or not DIGEST.fullmatch(digest):
        raise ValueError("sha256 must be 64 lowercase hex digits")
    return digest, Principal(name, parse_roles(raw["roles"]))


class TokenFile:
    """A tokens file that is read again when it changes, so revoking a token needs no
    restart. A file that no longer loads keeps the tokens in force and logs why."""

    # How often, at most, a request looks at the file's modification time.
    CHECK_SECONDS = 1.0

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._store = TokenStore.from_file(self.path)
        self._seen = self._stamp()
        self._checked = time.monotonic()
        self._lock = threading.Lock()

    def authenticate(self, token: str) -> Principal | None:
        if time.monotonic() - self._checked >= self.CHECK_SECONDS:
            self.reload_if_changed()
        return self._store.authenticate(token)

    def reload_if_changed(self) -> bool:
        """Read the file again if it changed since last read; True when new tokens apply."""
        with self._lock:
            self._checked = time.monotonic()
            stamp = self._stamp()
            if stamp == self._seen:
                return False
            self._seen = stamp
            return self._reload()

    def reload(self) -> bool:
        """Read the file again now (SIGHUP); True when new tokens apply."""
        with self._lock:
            self._seen = self._stamp()
            return self._reload()

    def __len__(self) -> int:
        return len(self._store)

    def _reload(self) -> bool:
        try:
            store = TokenStore.from_file(self.path)
        except (OSError, ValueError) as error:
            logger.error("tokens file not reloaded, the previous tokens stay in force: %s", error)
            return False
        self._store = store  # one assignment: a request sees the old tokens or the new ones
        logger.info("tokens file reloaded: %d tokens", len(store))
        return True

    def _stamp(self) -> tuple[int, int, int] | None:
        try:
            status = self.path.stat()
        except OSError:
            return None
        return status.st_mtime_ns, status.st_size, status.st_ino
