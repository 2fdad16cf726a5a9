"""Operator tasks on a store file, for ``specsvc backup|export|import|verify|...``.

Each takes the event store's path (its projections live beside it, see
``bootstrap.projections_path``) and an optional ``progress(phase, done, total)``
callback, and returns a JSON-able report. Errors are ``SpecServiceError``s.
"""

from specsvc.operator.backup import backup
from specsvc.operator.export import export_events
from specsvc.operator.importing import import_events
from specsvc.operator.rebuild import rebuild_read_models
from specsvc.operator.store import DestinationExists, StoreNotEmpty, StoreNotFound
from specsvc.operator.verify import verify_store

__all__ = [
    "DestinationExists",
    "StoreNotEmpty",
    "StoreNotFound",
    "backup",
    "export_events",
    "import_events",
    "rebuild_read_models",
    "verify_store",
]
