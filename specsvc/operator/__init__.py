"""Operator tasks on a store: export, import, verify, rebuild the read models, migrate.

Each takes a started store (``common.OpenStore``, from the composition root) and an
optional ``progress(phase, done, total)`` callback, works through the recorders'
interfaces, and returns a JSON-able report. Errors are ``SpecServiceError``s.
"""

from specsvc.operator.export import export_events
from specsvc.operator.importing import import_events
from specsvc.operator.migrate import migrate_store
from specsvc.operator.migrate_check import copy_differences
from specsvc.operator.rebuild import rebuild_read_models
from specsvc.operator.records import parse_records
from specsvc.operator.verify import verify_projections, verify_store

__all__ = [
    "copy_differences",
    "export_events",
    "import_events",
    "migrate_store",
    "parse_records",
    "rebuild_read_models",
    "verify_projections",
    "verify_store",
]
