"""Unit tests: one module or a few, no store files, no servers, no processes.

They need no fixtures beyond pytest's own.
"""
