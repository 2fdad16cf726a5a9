"""Signed checkpoints of the log's head: ``verify --checkpoint FILE`` writes one after a
clean verify, ``verify --against FILE`` proves the log still extends it
(docs/behaviour.md, Tamper evidence).

A checkpoint is a small JSON document: the store's identity, the position and chain hash
of the last event, the chain's algorithm and key id, and when it was taken, signed with
an Ed25519 key when one is configured, else with an HMAC under the chain key, else not
at all. Whoever holds the file can check that the log still holds that hash at that
position, which catches truncation and a chain computed again, without any key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from specsvc.errors import ConfigurationError
from specsvc.persistence.chain import read_key_file

FORMAT = "specsvc-checkpoint/1"


@dataclass(frozen=True)
class Checkpoint:
    body: dict[str, Any]
    signature: dict[str, str] | None

    @property
    def position(self) -> int:
        return int(self.body["position"])

    @property
    def digest(self) -> bytes:
        return bytes.fromhex(self.body["hash"])


class Signer:
    """Signs and checks checkpoints: an Ed25519 key (PEM; a public key only checks),
    else an HMAC under the chain key, else nothing."""

    def __init__(self, checkpoint_key_file: str | None, chain_key_file: str | None):
        self._private: Any = None
        self._public: Any = None
        self._hmac_key: bytes | None = None
        if checkpoint_key_file:
            self._load_ed25519(checkpoint_key_file)
        elif chain_key_file:
            try:
                self._hmac_key = read_key_file(chain_key_file)
            except ValueError as error:
                raise ConfigurationError(f"SPECSVC_CHAIN_KEY_FILE: {error}") from None

    def _load_ed25519(self, path: str) -> None:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import (
            Ed25519PrivateKey,
            Ed25519PublicKey,
        )
        from cryptography.hazmat.primitives.serialization import (
            load_pem_private_key,
            load_pem_public_key,
        )

        try:
            with open(path, "rb") as file:
                pem = file.read()
        except OSError as error:
            raise ConfigurationError(
                f"SPECSVC_CHECKPOINT_KEY_FILE: cannot read {path}: {error.strerror}"
            ) from None
        key: Any
        try:
            key = load_pem_private_key(pem, password=None)
        except (ValueError, TypeError):
            try:
                key = load_pem_public_key(pem)
            except ValueError:
                key = None
        if isinstance(key, Ed25519PrivateKey):
            self._private, self._public = key, key.public_key()
        elif isinstance(key, Ed25519PublicKey):
            self._public = key
        else:
            raise ConfigurationError(
                f"SPECSVC_CHECKPOINT_KEY_FILE: {path} is not an Ed25519 key in PEM"
                " (openssl genpkey -algorithm ed25519 -out checkpoint.pem)"
            )

    def sign(self, body: dict[str, Any]) -> dict[str, str] | None:
        message = canonical(body)
        if self._public is not None:
            if self._private is None:
                raise ConfigurationError(
                    "SPECSVC_CHECKPOINT_KEY_FILE holds a public key: writing a checkpoint"
                    " needs the private key"
                )
            value = self._private.sign(message)
            return {"algorithm": "ed25519", "value": base64.b64encode(value).decode()}
        if self._hmac_key is not None:
            value = hmac.new(self._hmac_key, message, hashlib.sha256).digest()
            return {"algorithm": "hmac-sha256", "value": base64.b64encode(value).decode()}
        return None

    def check(self, checkpoint: Checkpoint) -> tuple[bool | None, str]:
        """``(True, "valid")``; ``(False, why)`` when the signature does not hold; or
        ``(None, why not)`` when it cannot be checked here (unsigned, or no key for it)."""
        signature = checkpoint.signature
        if signature is None:
            return None, "the checkpoint is not signed"
        message = canonical(checkpoint.body)
        try:
            value = base64.b64decode(signature["value"], validate=True)
        except (KeyError, ValueError):
            return False, "the checkpoint's signature is malformed"
        algorithm = signature.get("algorithm")
        if algorithm == "ed25519":
            if self._public is None:
                return None, "an Ed25519 signature: set SPECSVC_CHECKPOINT_KEY_FILE to check it"
            from cryptography.exceptions import InvalidSignature

            try:
                self._public.verify(value, message)
            except InvalidSignature:
                return False, "the Ed25519 signature does not match: the checkpoint was altered"
            return True, "valid"
        if algorithm == "hmac-sha256":
            if self._hmac_key is None:
                return None, "signed with the chain key: set SPECSVC_CHAIN_KEY_FILE to check it"
            expected = hmac.new(self._hmac_key, message, hashlib.sha256).digest()
            if not hmac.compare_digest(expected, value):
                return False, "the HMAC signature does not match: the checkpoint was altered"
            return True, "valid"
        return False, f"unknown signature algorithm {algorithm!r}"


def canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")


def new_checkpoint(
    store_id: str, position: int, digest: bytes, algorithm: str, key_id: str, signer: Signer
) -> Checkpoint:
    body = {
        "format": FORMAT,
        "store_id": store_id,
        "position": position,
        "hash": digest.hex(),
        "chain": {"algorithm": algorithm, "key_id": key_id},
        "taken_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    return Checkpoint(body, signer.sign(body))


def write_checkpoint(path: str, checkpoint: Checkpoint) -> None:
    """Write the file whole or not at all (a temporary file renamed over it)."""
    document = {**checkpoint.body, "signature": checkpoint.signature}
    temporary = f"{path}.tmp-{os.getpid()}"
    try:
        with open(temporary, "w", encoding="utf-8") as file:
            json.dump(document, file, indent=2, sort_keys=True)
            file.write("\n")
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except OSError as error:
        raise ConfigurationError(f"cannot write the checkpoint {path}: {error.strerror}") from None


def read_checkpoint(path: str) -> Checkpoint:
    try:
        with open(path, encoding="utf-8") as file:
            document = json.load(file)
    except OSError as error:
        raise ConfigurationError(f"cannot read the checkpoint {path}: {error.strerror}") from None
    except ValueError as error:
        raise ConfigurationError(f"{path} is not a checkpoint (not JSON: {error})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ConfigurationError(f"{path} is not a checkpoint ({FORMAT})")
    signature = document.pop("signature", None)
    try:
        position, digest = int(document["position"]), bytes.fromhex(document["hash"])
    except (KeyError, TypeError, ValueError):
        raise ConfigurationError(f"{path} is not a checkpoint: no position and hash") from None
    if position < 0 or len(digest) != 32:
        raise ConfigurationError(f"{path} is not a checkpoint: a malformed position or hash")
    if signature is not None and not isinstance(signature, dict):
        raise ConfigurationError(f"{path} is not a checkpoint: a malformed signature")
    return Checkpoint(document, signature)


def check_against(
    store: Any, against: Checkpoint, signer: Signer, report: dict[str, Any]
) -> dict[str, Any]:
    """The checkpoint's signature and store identity checked; each failure is one more
    difference in ``report`` (the log itself was checked against it by verify)."""
    valid, why = signer.check(against)
    found = [] if valid is not False else [why]
    store_id = store.application.recorder.store_id()
    taken_of = against.body.get("store_id")
    if taken_of != store_id:
        found.append(f"the checkpoint was taken of store {taken_of}, not of this one ({store_id})")
    report["differences"] += [f"checkpoint: {line}" for line in found]
    report["problems"] += [
        {"position": against.position, "kind": "checkpoint", "detail": line} for line in found
    ]
    return {"position": against.position, "signature": why}


def take(store: Any, path: str, signer: Signer) -> dict[str, Any]:
    """Write a checkpoint of the log's head to ``path``, and remember it in the store so
    that start-up checks the chain from it."""
    from specsvc.operator.verify import head_of

    recorder = store.application.recorder
    position, digest = head_of(store)
    chain = recorder.chain
    checkpoint = new_checkpoint(
        recorder.store_id(), position, digest, chain.algorithm, chain.key_id, signer
    )
    write_checkpoint(path, checkpoint)
    recorder.record_checkpoint(position, digest)
    signed = None if checkpoint.signature is None else checkpoint.signature["algorithm"]
    return {"position": position, "path": path, "signed": signed}
