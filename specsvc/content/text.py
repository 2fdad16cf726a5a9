"""Text facts every layer needs: is it valid Unicode, and its content digest."""

from __future__ import annotations

import hashlib


def is_text(value: str) -> bool:
    """Valid Unicode text: no lone surrogates, which UTF-8 (and so the store) cannot hold."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def sha256_hex(content: str) -> str:
    """The ``content_sha256`` of a version: SHA-256 of its UTF-8 bytes, in hex."""
    return hashlib.sha256(content.encode("utf-8")).hexdigest()
