"""Encryption at rest (docs/behaviour.md, Encryption at rest).

With ``SPECSVC_CIPHER_KEY_FILE`` set, the library's AES-GCM cipher encrypts the state of
every stored event and snapshot, and ``ContentSealer`` encrypts, with the same key and
cipher, what this service itself stores that holds spec content: the read models'
content column and the answers kept under idempotency keys. Without a key, nothing here
changes a byte.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from eventsourcing.persistence import Cipher, StoredEvent
from eventsourcing.utils import resolve_topic

CIPHER_TOPIC = "eventsourcing.cryptography:AESCipher"
KEY_SIZES = (16, 24, 32)
# The key file's path, kept in the library environment so that errors can name it.
KEY_FILE = "SPECSVC_CIPHER_KEY_FILE"
SETTING = f"{KEY_FILE} (--cipher-key-file)"
CREATE_KEY = "head -c 32 /dev/urandom | base64 > cipher.key"


class CipherKeyError(ValueError):
    """The key file cannot be used, or its key does not read the store: one line that
    names the setting (the composition root reports it as a ConfigurationError)."""


def read_key_file(path: str) -> str:
    """The base64 text of the AES key in ``path``; CipherKeyError says what is wrong."""
    try:
        with open(path, "rb") as file:
            raw = file.read(4096)
    except OSError as error:
        raise CipherKeyError(
            f"{SETTING} {path}: {error.strerror or error}; give the path of a readable file"
            f" holding a base64 AES key (create one with: {CREATE_KEY})"
        ) from None
    text = raw.strip()
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) not in KEY_SIZES:
        raise CipherKeyError(
            f"{SETTING} {path}: not a base64-encoded 16-, 24- or 32-byte AES key; create one"
            f" with: {CREATE_KEY}"
        )
    return text.decode("ascii")


def cipher_env(key_file: str | None) -> dict[str, str]:
    """The library environment's cipher entries for ``key_file`` (none without one)."""
    if not key_file:
        return {}
    return {"CIPHER_TOPIC": CIPHER_TOPIC, "CIPHER_KEY": read_key_file(key_file), KEY_FILE: key_file}


def cipher_of(env: Mapping[str, Any]) -> Cipher | None:
    """The cipher the library builds from ``env``, or None."""
    topic = env.get("CIPHER_TOPIC")
    if not topic:
        return None
    cipher_class: type[Cipher] = resolve_topic(topic)
    return cipher_class(env)  # type: ignore[arg-type]


class UnreadableContent(ValueError):
    """Sealed content that does not decrypt: changed on disk (the service answers
    StoreCorrupted; ``rebuild-projections`` writes it again from the events)."""


class ContentSealer:
    """Text the service stores itself, encrypted as base64 text with the store's cipher."""

    def __init__(self, cipher: Cipher | None) -> None:
        self.cipher = cipher

    def seal(self, text: str) -> str:
        if self.cipher is None:
            return text
        return base64.b64encode(self.cipher.encrypt(text.encode("utf-8"))).decode("ascii")

    def open(self, text: str) -> str:
        if self.cipher is None:
            return text
        try:
            return self.cipher.decrypt(base64.b64decode(text, validate=True)).decode("utf-8")
        except (binascii.Error, ValueError) as error:
            raise UnreadableContent(
                f"stored content does not decrypt with the key of {KEY_FILE} ({error})"
            ) from None


PLAIN = ContentSealer(None)


def check_key(
    newest: StoredEvent | None,
    cipher: Cipher | None,
    key_file: str | None,
    what: str = "the store",
) -> None:
    """CipherKeyError unless the newest event of ``what`` can be read with ``cipher``
    (None: it must not be encrypted). An empty store takes any key, or none."""
    if newest is None:
        return
    plain = _is_plain(newest.state)
    if cipher is None:
        if not plain:
            raise CipherKeyError(
                f"{what} is encrypted: set {SETTING} to the file of the key it was written with"
            )
        return
    try:
        cipher.decrypt(newest.state)
    except ValueError:
        if plain:
            raise CipherKeyError(
                f"{SETTING} {key_file}: {what} holds unencrypted events; unset it (stored"
                " events are never encrypted afterwards)"
            ) from None
        raise CipherKeyError(
            f"{SETTING} {key_file}: wrong key for {what} (its newest event does not decrypt"
            f" with it); give the key {what} was written with"
        ) from None


def _is_plain(state: bytes) -> bool:
    try:
        return isinstance(json.loads(state), dict)
    except ValueError:
        return False


def check_store(recorder: Any, cipher: Cipher | None, env: Mapping[str, Any]) -> None:
    """``check_key`` on the newest event of ``recorder`` (an application recorder)."""
    newest_id = recorder.max_notification_id()
    newest = None
    if newest_id:
        page = recorder.select_notifications(newest_id, 1)
        newest = page[0] if page else None
    check_key(newest, cipher, env.get(KEY_FILE))
