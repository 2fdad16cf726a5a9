"""The gRPC adapter (docs/behaviour.md, gRPC API): a thin servicer over ``SpecService``."""

from grpc_api.server import GrpcServer, create_server

__all__ = ["GrpcServer", "create_server"]
