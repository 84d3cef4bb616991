"""The dependency direction of design.md holds: core imports nothing of ours, edges never
import each other or the store, and nothing imports app.py."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.helpers import ROOT

OURS = {"api", "app", "browse", "core", "debrid", "hooks", "qbit_compat", "server", "store",
        "ui", "webdav", "arr", "repair"}
EDGES = {"api", "qbit_compat", "webdav", "ui"}


def _imports(package: str) -> dict[str, set[str]]:
    """Each module of `package` and the top-level packages of ours it imports."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        names: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names & OURS
    return found


def test_core_imports_nothing_of_ours() -> None:
    bad = {module: names - {"core"} for module, names in _imports("core").items()
           if names - {"core"}}
    assert bad == {}


@pytest.mark.parametrize("edge", sorted(EDGES))
def test_edges_call_core_never_each_other_or_the_store(edge: str) -> None:
    if not (ROOT / edge).is_dir():
        pytest.skip(f"{edge}/ does not exist yet")
    forbidden = (EDGES - {edge}) | {"store", "app"}
    bad = {module: names & forbidden for module, names in _imports(edge).items()
           if names & forbidden}
    assert bad == {}


def test_nothing_imports_app() -> None:
    for package in OURS - {"app"}:
        if (ROOT / package).is_dir():
            assert all("app" not in names for names in _imports(package).values()), package


def test_the_tree_has_the_packages_this_test_knows() -> None:
    packages = {p.name for p in Path(ROOT).iterdir()
                if p.is_dir() and (p / "__init__.py").exists()}
    assert packages - {"tests", "bench", "tools"} <= OURS
