"""How long the property and fuzz tests run: small and reproducible by default, longer
on request through an environment variable."""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, settings


def budget(variable: str, default: int, **more: Any) -> settings:
    """Hypothesis settings for ``default`` examples, or as many as ``$variable`` asks for.

    The default run is derandomized (the same examples every time, so CI is
    reproducible) and keeps no example database; a longer run asked for by the
    variable draws new examples each time.
    """
    wanted = os.environ.get(variable, "").strip()
    longer = bool(wanted)
    return settings(
        max_examples=int(wanted) if longer else default,
        deadline=None,
        derandomize=not longer,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        print_blob=longer,
        **more,
    )
