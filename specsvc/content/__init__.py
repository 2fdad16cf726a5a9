"""Spec content: hardened YAML intake, JSON pointers, and differences between versions."""

from specsvc.content.intake import MAX_DEPTH, MAX_EVENTS, ParsedContent, parse_content

__all__ = ["MAX_DEPTH", "MAX_EVENTS", "ParsedContent", "parse_content"]
