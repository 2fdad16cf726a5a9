"""The committed gRPC code is exactly what the recorded command makes from the .proto."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import grpc_api
from grpc_api.codegen import PROTO, generate

ROOT = Path(grpc_api.__file__).resolve().parent.parent
PACKAGE = Path(PROTO).parent
GENERATED = ["spec_service_pb2.py", "spec_service_pb2.pyi", "spec_service_pb2_grpc.py"]
# An import of the bare ``specsvc`` package from generated code would shadow the app's.
BARE_IMPORT = re.compile(r"^\s*(from|import)\s+specsvc\b", re.MULTILINE)


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("codegen")
    generate(ROOT, out)
    return out / PACKAGE


@pytest.mark.parametrize("filename", GENERATED)
def test_the_committed_code_matches_the_proto_byte_for_byte(
    regenerated: Path, filename: str
) -> None:
    committed = (ROOT / PACKAGE / filename).read_bytes()
    fresh = (regenerated / filename).read_bytes()
    assert fresh == committed, (
        f"{PACKAGE / filename} differs from what the .proto generates: run"
        " `python -m grpc_api.codegen` from the repository root and commit the result"
    )


def test_codegen_writes_exactly_the_three_files(regenerated: Path) -> None:
    assert sorted(p.name for p in regenerated.iterdir()) == sorted(GENERATED)


@pytest.mark.parametrize("filename", GENERATED)
def test_generated_imports_name_the_grpc_api_package(filename: str) -> None:
    text = (ROOT / PACKAGE / filename).read_text()
    assert not BARE_IMPORT.search(text), BARE_IMPORT.search(text)


def test_the_grpc_module_imports_its_messages_by_their_full_package_path() -> None:
    text = (ROOT / PACKAGE / "spec_service_pb2_grpc.py").read_text()
    assert "from grpc_api.protos.specsvc.v1 import spec_service_pb2 as " in text


def test_the_messages_are_registered_under_the_repository_relative_path() -> None:
    from grpc_api.protos.specsvc.v1 import spec_service_pb2

    assert spec_service_pb2.DESCRIPTOR.name == PROTO
    assert spec_service_pb2.Spec.__module__ == "grpc_api.protos.specsvc.v1.spec_service_pb2"


def test_the_drift_check_notices_a_changed_proto(tmp_path: Path) -> None:
    """Guards the comparison above: a one-field change to the .proto changes the output."""
    root = tmp_path / "root"
    (root / PACKAGE).mkdir(parents=True)
    proto = (ROOT / PROTO).read_text()
    changed = proto.replace(
        "message ListTypesRequest {}", "message ListTypesRequest {\n  string x = 1;\n}"
    )
    assert changed != proto
    (root / PROTO).write_text(changed)
    out = tmp_path / "out"
    out.mkdir()
    generate(root, out)
    assert (out / PACKAGE / "spec_service_pb2.py").read_bytes() != (
        ROOT / PACKAGE / "spec_service_pb2.py"
    ).read_bytes()
