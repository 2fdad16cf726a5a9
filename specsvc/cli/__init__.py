"""The ``specsvc`` command line: the server, a REST client, and operator tools."""

from specsvc.cli.main import main

__all__ = ["main"]
