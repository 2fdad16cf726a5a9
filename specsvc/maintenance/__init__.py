"""Operator tasks on a store file, for ``specsvc backup|export|import|verify|...``.

Each takes the event store's path (its projections live beside it, see
``bootstrap.projections_path``) and an optional ``progress(phase, done, total)``
callback, and returns a JSON-able report. Errors are ``SpecServiceError``s.
"""

from specsvc.maintenance.backup import backup
from specsvc.maintenance.export import export_events
from specsvc.maintenance.importing import import_events
from specsvc.maintenance.rebuild import rebuild_read_models
from specsvc.maintenance.store import DestinationExists, StoreNotEmpty, StoreNotFound
from specsvc.maintenance.verify import verify_store

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
