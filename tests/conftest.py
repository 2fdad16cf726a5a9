"""Every suite: the shared helpers in ``tests.support`` get pytest's assertion messages,
the command line keeps what it remembers between commands in a folder of the run's
own, never in the home of whoever runs the tests, and a server a test starts is one
process (``--workers 1``) unless the test asks for more."""

import os
from collections.abc import Iterator

import pytest

pytest.register_assert_rewrite("tests.support")


@pytest.fixture(autouse=True, scope="session")
def _private_cli_state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    before = os.environ.get("SPECSVC_STATE_DIR")
    os.environ["SPECSVC_STATE_DIR"] = str(tmp_path_factory.mktemp("cli-state"))
    yield
    if before is None:
        os.environ.pop("SPECSVC_STATE_DIR", None)
    else:
        os.environ["SPECSVC_STATE_DIR"] = before


@pytest.fixture(autouse=True, scope="session")
def _one_worker() -> Iterator[None]:
    before = os.environ.get("SPECSVC_WORKERS")
    os.environ["SPECSVC_WORKERS"] = "1"
    yield
    if before is None:
        os.environ.pop("SPECSVC_WORKERS", None)
    else:
        os.environ["SPECSVC_WORKERS"] = before
