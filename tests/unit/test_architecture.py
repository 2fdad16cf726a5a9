"""Imports point one way: entry points -> adapters -> service -> application -> persistence.

Every import of every module is checked, including those inside functions and under
TYPE_CHECKING, against the layers below. A module may import its own package, and any
layer below its own; nothing points back up.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import ROOT

PACKAGES = ("specsvc", "rest_api", "grpc_api")

# Lowest first. A module belongs to the longest prefix that names it.
LAYERS: list[tuple[str, ...]] = [
    ("specsvc.errors", "specsvc.config", "specsvc.persistence"),
    (
        "specsvc.content",
        "specsvc.observability",
        "specsvc.persistence.sqlite",
        "specsvc.persistence.postgres",
    ),
    ("specsvc.domainmodel", "specsvc.spectypes", "specsvc.auth", "specsvc.cache"),
    ("specsvc.application", "specsvc.projections"),
    ("specsvc.system", "specsvc.runners"),
    ("specsvc.service",),
    ("specsvc",),  # the package root re-exports SpecService
    ("specsvc.operator", "rest_api", "grpc_api"),
    ("specsvc.bootstrap",),
    ("specsvc.cli",),
]
# A storage backend is chosen by the composition root; above it, only operator tasks
# (a scratch store for rebuilds) and the command line (backups of files) name one.
BACKENDS = ("specsvc.persistence.sqlite", "specsvc.persistence.postgres")
MAY_NAME_BACKENDS = ("specsvc.persistence", "specsvc.bootstrap", "specsvc.operator", "specsvc.cli")
# Adapters call the service; they never reach the domain, the application or a recorder.
ADAPTERS = ("rest_api", "grpc_api")
ADAPTER_MAY_IMPORT = (
    "specsvc.service",
    "specsvc.auth",
    "specsvc.errors",
    "specsvc.config",
    "specsvc.observability",
)
# The one way back up: SpecService.open() calls the composition root, inside the method.
ENTRY_POINTS = {("specsvc.service.facade", "specsvc.bootstrap", "open")}


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int
    function: str | None


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {
    module_name(path): path
    for package in PACKAGES
    for path in (ROOT / package).rglob("*.py")
    if "protos" not in path.parts
}


def imports_of(name: str) -> list[Import]:
    found: list[Import] = []

    def visit(node: ast.AST, function: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            inner = function
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                inner = child.name
            for imported in _targets(child):
                if imported.split(".")[0] in PACKAGES:
                    found.append(Import(name, imported, child.lineno, inner))
            visit(child, inner)

    visit(ast.parse(MODULES[name].read_text()), None)
    return found


def _targets(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        # "from package import module" names the module; otherwise it names the package.
        return [
            f"{node.module}.{alias.name}"
            if f"{node.module}.{alias.name}" in MODULES
            else node.module
            for alias in node.names
        ]
    return []


def layer_of(name: str) -> tuple[int, str]:
    """The layer index and the prefix that places ``name``."""
    matches = [
        (len(prefix), index, prefix)
        for index, prefixes in enumerate(LAYERS)
        for prefix in prefixes
        if name == prefix or name.startswith(prefix + ".")
    ]
    assert matches, f"{name} belongs to no layer: add it to LAYERS"
    _, index, prefix = max(matches)
    return index, prefix


def _under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def violations(found: Import) -> list[str]:
    importer_layer, importer_prefix = layer_of(found.importer)
    imported_layer, imported_prefix = layer_of(found.imported)
    where = f"{found.importer}:{found.line} imports {found.imported}"
    if (found.importer, found.imported, found.function) in ENTRY_POINTS:
        return []
    problems = []
    if imported_layer > importer_layer or (
        imported_layer == importer_layer and imported_prefix != importer_prefix
    ):
        problems.append(f"{where}: points up (or sideways) from {importer_prefix}")
    if _under(found.imported, BACKENDS) and not _under(found.importer, MAY_NAME_BACKENDS):
        problems.append(f"{where}: only the composition root picks a storage backend")
    adapter_may = found.imported == "specsvc" or _under(
        found.imported, (*ADAPTERS, *ADAPTER_MAY_IMPORT)
    )
    if _under(found.importer, ADAPTERS) and not adapter_may:
        problems.append(f"{where}: an adapter goes through SpecService")
    return problems


def test_every_module_belongs_to_a_layer() -> None:
    for name in MODULES:
        layer_of(name)


def test_no_import_points_back_up() -> None:
    problems = [p for name in sorted(MODULES) for i in imports_of(name) for p in violations(i)]
    assert problems == []


def test_only_entry_points_import_the_composition_root() -> None:
    importers = {
        (i.importer, i.function)
        for name in MODULES
        for i in imports_of(name)
        if i.imported == "specsvc.bootstrap"
    }
    assert {(m, f) for m, f in importers if not m.startswith("specsvc.cli.")} == {
        ("specsvc.service.facade", "open")
    }


def test_the_package_root_holds_at_most_ten_modules() -> None:
    root_modules = sorted(p.name for p in (ROOT / "specsvc").glob("*.py"))
    assert len(root_modules) <= 10, root_modules


@pytest.mark.parametrize(
    ("importer", "imported", "expected"),
    [
        ("specsvc.persistence.interfaces", "specsvc.service", "points up"),
        ("specsvc.service.queries", "specsvc.cli.main", "points up"),
        ("specsvc.service.queries", "rest_api", "points up"),
        ("specsvc.application", "specsvc.persistence.sqlite.factory", "storage backend"),
        ("rest_api.specs", "specsvc.domainmodel", "goes through SpecService"),
        ("specsvc.application", "specsvc.projections", "sideways"),
        ("specsvc.service.queries", "specsvc.bootstrap", "points up"),
    ],
)
def test_the_check_catches_imports_that_point_the_wrong_way(
    importer: str, imported: str, expected: str
) -> None:
    problems = violations(Import(importer, imported, 1, None))
    assert any(expected in problem for problem in problems), problems
