"""The gRPC adapter's suites: real servers on free ports, real channels, real tokens."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.grpc import GrpcApi, served_service
from tests.support.principals import JwtKeys, authenticator
from tests.support.stores import ADAPTER_BACKEND


@pytest.fixture(scope="module")
def grpc_api(tmp_path_factory: pytest.TempPathFactory, jwt_keys: JwtKeys) -> Iterator[GrpcApi]:
    """The admin's client of a server shared by the tests of a module."""
    folder = tmp_path_factory.mktemp("grpc")
    with served_service(ADAPTER_BACKEND, folder, authenticator(jwt_keys)) as api:
        yield api
