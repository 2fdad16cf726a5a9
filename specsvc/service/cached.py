"""What the projection worker writes to the query cache after each commit
(docs/architecture.md, Query cache): the same values the cached reads of
``SpecQueries`` store, so a hit answers exactly what a read of the store would."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from specsvc.application import SpecApplication, project_spec
from specsvc.cache import PUBLISHED, SPEC
from specsvc.domainmodel import Spec
from specsvc.persistence.interfaces import SpecReadModelRecorder
from specsvc.service.resources import spec_resource


def cache_entries(
    application: SpecApplication, read_model: SpecReadModelRecorder, event: Spec.Event
) -> Mapping[tuple[str, UUID], Any]:
    """The spec as of ``event`` (its state at that event's position, whatever came
    later) and its published row, read right after the event's projection committed."""
    spec = application.repository.get(
        event.originator_id, version=event.originator_version, projector_func=project_spec
    )
    return {
        (SPEC, event.originator_id): spec_resource(spec),
        (PUBLISHED, event.originator_id): read_model.select_published(event.originator_id),
    }
