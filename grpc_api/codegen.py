"""The one recorded command that generates the gRPC code next to its ``.proto``.

Run from the repository root: ``python -m grpc_api.codegen`` (needs grpcio-tools). Paths
are relative to the root, so generated imports read ``grpc_api.protos.specsvc.v1...``
and never shadow the ``specsvc`` package.
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

PROTO = "grpc_api/protos/specsvc/v1/spec_service.proto"


def generate(root: Path, out: Path) -> None:
    """Compile ``root/PROTO`` into ``out`` (the root itself, or a folder for drift checks)."""
    from grpc_tools import protoc

    well_known = resources.files("grpc_tools") / "_proto"
    args = [
        "grpc_tools.protoc",
        f"--proto_path={root}",
        f"--proto_path={well_known}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        str(root / PROTO),
    ]
    if protoc.main(args) != 0:
        raise RuntimeError(f"protoc failed on {PROTO}")


if __name__ == "__main__":
    here = Path.cwd()
    generate(here, here)
    sys.exit(0)
