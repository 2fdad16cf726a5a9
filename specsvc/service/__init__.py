"""The Python API: ``SpecService``, the one object every adapter and importer calls."""

from specsvc.service.facade import SpecService

__all__ = ["SpecService"]
