"""Spec content: hardened YAML intake, JSON pointers, and differences between versions."""

from specsvc.content.intake import MAX_DEPTH, MAX_EVENTS, ParsedContent, parse_content
from specsvc.content.text import is_text, sha256_hex

__all__ = ["MAX_DEPTH", "MAX_EVENTS", "ParsedContent", "is_text", "parse_content", "sha256_hex"]
