"""Operator tasks on a store: export, import, verify and rebuild the read models.

Each takes a started store (``common.OpenStore``, from the composition root) and an
optional ``progress(phase, done, total)`` callback, works through the recorders'
interfaces, and returns a JSON-able report. Errors are ``SpecServiceError``s.
"""

from specsvc.operator.export import export_events
from specsvc.operator.importing import import_events
from specsvc.operator.rebuild import rebuild_read_models
from specsvc.operator.records import parse_records
from specsvc.operator.verify import verify_projections, verify_store

__all__ = [
    "export_events",
    "import_events",
    "parse_records",
    "rebuild_read_models",
    "verify_projections",
    "verify_store",
]
