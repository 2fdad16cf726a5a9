"""The gRPC adapter (CONTRACT 3): a thin servicer over ``SpecService``."""

from grpc_api.server import GrpcServer, create_server

__all__ = ["GrpcServer", "create_server"]
