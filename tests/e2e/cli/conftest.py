"""The command line against real ``specsvc serve`` processes and real store files.

Servers are started per test with ``tests.support.processes.running``.
"""
