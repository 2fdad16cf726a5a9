"""Persistence: the recorder interfaces and row types; one sub-package per backend."""
