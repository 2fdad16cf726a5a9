"""The REST adapter's suites: a real Flask app over a real store, through its test client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from specsvc import SpecService
from tests.support.principals import JwtKeys
from tests.support.rest import Api, build_app
from tests.support.stores import ADAPTER_BACKEND, open_service


@pytest.fixture
def service(tmp_path: Path) -> Iterator[SpecService]:
    svc = open_service(ADAPTER_BACKEND, tmp_path)
    yield svc
    svc.close()


@pytest.fixture
def app(service: SpecService, jwt_keys: JwtKeys) -> Flask:
    return build_app(service, jwt_keys)


@pytest.fixture
def api(app: Flask, service: SpecService) -> Api:
    """The admin's client."""
    return Api(app.test_client(), service)


@pytest.fixture
def four_eyes_api(tmp_path: Path, jwt_keys: JwtKeys) -> Iterator[Api]:
    svc = open_service(ADAPTER_BACKEND, tmp_path, four_eyes=True)
    yield Api(build_app(svc, jwt_keys).test_client(), svc)
    svc.close()
