"""Every suite: the shared helpers in ``tests.support`` get pytest's assertion messages."""

import pytest

pytest.register_assert_rewrite("tests.support")
