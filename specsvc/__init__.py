"""Spec Service: versioned, event-sourced YAML specs with a complete audit trail."""

from specsvc.service import SpecService

__all__ = ["SpecService"]
__version__ = "0.1.0"
