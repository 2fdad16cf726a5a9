"""Operator queries of ``SpecService``: storage, projection health, verification."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from specsvc.application import SpecApplication, store_errors
from specsvc.bootstrap import Components, rebuild_projections
from specsvc.persistence.interfaces import SpecReadModelRecorder


class SpecOperations:
    _components: Components
    _app: SpecApplication
    _read_model: SpecReadModelRecorder

    def projection_status(self) -> dict[str, Any]:
        """Readiness facts: is the store reachable and are the projections caught up?"""
        runner = self._components.runner
        with store_errors():
            lag = runner.lag()
            if lag:
                # A write may be between its commit and its projection: let it finish.
                runner.catch_up()
                lag = runner.lag()
        error = runner.last_error
        return {"lag": lag, "caught_up": lag == 0 and error is None, "error": error and str(error)}

    def projected_position(self) -> int:
        """The log position of the last event the read models hold (0 when none)."""
        with store_errors():
            return self._read_model.max_position()

    def on_projected(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (quickly, without blocking) after each projection run."""
        self._components.runner.listeners.append(listener)

    def storage_info(self) -> dict[str, Any]:
        """Where the stores live and the durability settings in force."""
        return self._components.storage_info()

    def verify_projections(self) -> dict[str, Any]:
        """Rebuild the read models from the event log in memory and compare every row."""
        self.catch_up()
        rebuilt = rebuild_projections(self._app, None)
        try:
            expected = rebuilt.read_model.dump_tables()
        finally:
            rebuilt.close()
        actual = self._read_model.dump_tables()
        differences = {
            table: {
                "missing": len(set(rows) - set(actual.get(table, []))),
                "unexpected": len(set(actual.get(table, [])) - set(rows)),
            }
            for table, rows in expected.items()
            if rows != actual.get(table)
        }
        return {"equal": not differences, "differences": differences}

    def catch_up(self) -> bool:
        """Project everything recorded so far, including other processes' commits."""
        return self._components.runner.catch_up()
