"""End-to-end tests: each API through its own protocol, and real processes.

The adapter suites (``rest``, ``grpc``) run on one backend: they test what the adapter
adds (status and code tables, headers, auth, bad input), not the store. ``cli`` and
``docs`` start real ``specsvc`` processes.
"""

from __future__ import annotations

import pytest

from tests.support.principals import JwtKeys, make_keys


@pytest.fixture(scope="session")
def jwt_keys() -> JwtKeys:
    return make_keys()
