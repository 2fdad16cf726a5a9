"""The SpecService servicer: decode the request, call the application once, encode."""

from __future__ import annotations

from typing import Any

import grpc

from grpc_api.calls import current_call
from grpc_api.convert import (
    MessageMemo,
    instant,
    optional,
    struct_to_dict,
    text,
    to_message,
)
from grpc_api.protos.specsvc.v1 import spec_service_pb2 as pb
from grpc_api.protos.specsvc.v1 import spec_service_pb2_grpc
from grpc_api.watch import Broadcaster
from specsvc import SpecService
from specsvc.errors import BadRequest


class SpecServicer(spec_service_pb2_grpc.SpecServiceServicer):
    def __init__(self, service: SpecService, broadcaster: Broadcaster):
        self._service = service
        self._broadcaster = broadcaster
        self._published = MessageMemo(pb.PublishedSpec)

    @staticmethod
    def _meta() -> dict[str, Any]:
        """Who writes, under which correlation id and idempotency key (metadata)."""
        call = current_call()
        return {
            "actor": call.principal.name,
            "correlation_id": call.correlation_id,
            "idempotency_key": call.idempotency_key,
        }

    def CreateSpec(self, request: pb.CreateSpecRequest, context: Any) -> pb.Spec:
        spec = self._service.create_spec(
            request.name,
            request.type,
            request.content,
            reason=optional(request, "reason"),
            **self._meta(),
        )
        return to_message(spec, pb.Spec)

    def UpdateSpec(self, request: pb.UpdateSpecRequest, context: Any) -> pb.Spec:
        spec = self._service.update_spec(
            request.name,
            request.content,
            reason=request.reason,
            expected_version=optional(request, "expected_version"),
            expected_revision=optional(request, "expected_revision"),
            **self._meta(),
        )
        return to_message(spec, pb.Spec)

    def PublishSpec(self, request: pb.PublishSpecRequest, context: Any) -> pb.Spec:
        spec = self._service.publish_spec(
            request.name,
            reason=request.reason,
            version=optional(request, "version"),
            expected_revision=optional(request, "expected_revision"),
            **self._meta(),
        )
        return to_message(spec, pb.Spec)

    def DeprecateSpec(self, request: pb.DeprecateSpecRequest, context: Any) -> pb.Spec:
        spec = self._service.deprecate_spec(
            request.name,
            reason=request.reason,
            expected_revision=optional(request, "expected_revision"),
            **self._meta(),
        )
        return to_message(spec, pb.Spec)

    def DeleteSpec(self, request: pb.DeleteSpecRequest, context: Any) -> pb.Spec:
        spec = self._service.delete_spec(
            request.name,
            reason=request.reason,
            expected_revision=optional(request, "expected_revision"),
            **self._meta(),
        )
        return to_message(spec, pb.Spec)

    def GetSpec(self, request: pb.GetSpecRequest, context: Any) -> pb.Spec:
        spec = self._service.get_spec(
            request.name,
            version=optional(request, "version"),
            as_of=instant(request, "as_of"),
            min_position=_min_position(),
        )
        return to_message(spec, pb.Spec)

    def GetPublishedSpec(self, request: pb.GetPublishedSpecRequest, context: Any) -> Any:
        as_of = instant(request, "as_of")
        served = self._service.get_published(
            request.name, as_of=as_of, min_position=_min_position()
        )
        if as_of is not None:
            return to_message(served, pb.PublishedSpec)
        # A kept message is shared by concurrent calls: grpc only serializes it.
        return self._published.message(request.name, served)

    def ListSpecs(self, request: pb.ListSpecsRequest, context: Any) -> Any:
        page = self._service.list_specs(
            state=text(request, "state"),
            type=text(request, "type"),
            name_prefix=text(request, "name_prefix"),
            limit=optional(request, "limit", 50),
            page_token=text(request, "page_token"),
            min_position=_min_position(),
        )
        return to_message(page, pb.ListSpecsResponse)

    def ListVersions(self, request: pb.ListVersionsRequest, context: Any) -> Any:
        versions = self._service.list_versions(request.name, min_position=_min_position())
        return to_message(versions, pb.ListVersionsResponse)

    def GetVersion(self, request: pb.GetVersionRequest, context: Any) -> pb.Version:
        version = self._service.get_version(
            request.name, request.version, min_position=_min_position()
        )
        return to_message(version, pb.Version)

    def GetHistory(self, request: pb.GetHistoryRequest, context: Any) -> Any:
        history = self._service.history(request.name, min_position=_min_position())
        return to_message(history, pb.GetHistoryResponse)

    def DiffVersions(self, request: pb.DiffVersionsRequest, context: Any) -> Any:
        diff = self._service.diff(
            request.name,
            request.from_version,
            request.to_version,
            min_position=_min_position(),
        )
        return to_message(diff, pb.DiffVersionsResponse)

    def ValidateSpec(self, request: pb.ValidateSpecRequest, context: Any) -> Any:
        result = self._service.validate(request.type, request.content)
        return to_message(result, pb.ValidateSpecResponse)

    def EvaluateSpec(self, request: pb.EvaluateSpecRequest, context: Any) -> Any:
        if not request.HasField("input"):
            # As over REST, where a missing input is refused: an unset Struct is not an
            # empty mapping, which a client sends as an empty Struct.
            raise BadRequest(
                "input is required and must be a JSON object (a Struct)",
                details={"field": "input"},
            )
        result = self._service.evaluate(
            request.name,
            struct_to_dict(request.input),
            version=optional(request, "version"),
            min_position=_min_position(),
        )
        return to_message(result, pb.EvaluateSpecResponse)

    def ListEvents(self, request: pb.ListEventsRequest, context: Any) -> Any:
        page = self._service.list_events(
            after=optional(request, "after", 0),
            limit=optional(request, "limit", 100),
            actor=text(request, "actor"),
            spec=text(request, "spec"),
            since=instant(request, "since"),
            until=instant(request, "until"),
            min_position=_min_position(),
        )
        return to_message(page, pb.ListEventsResponse)

    def WatchEvents(self, request: pb.WatchEventsRequest, context: grpc.ServicerContext) -> Any:
        watch = self._broadcaster.watch(
            optional(request, "after"),
            set(request.names),
            set(request.types),
            context,
            principal=current_call().principal.name,
        )
        for event in watch:
            yield to_message(event, pb.Event)

    def ListTypes(self, request: pb.ListTypesRequest, context: Any) -> Any:
        return to_message(self._service.list_types(), pb.ListTypesResponse)


def _min_position() -> int | None:
    """The ``x-min-position`` metadata: the position the read models must hold first."""
    return current_call().min_position
