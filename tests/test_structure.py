"""The layout's promises: the standard imports nothing of the stages, extractors take plain
settings, and no module imports the command line."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
STAGES = ("extractors", "transforms", "quality", "loaders", "jinbao", "estate", "dags")


def imported(package: str) -> dict[str, set[str]]:
    """Every top-level package each module of `package` imports (at any depth in the file)."""
    found = {}
    for path in sorted((REPO / package).glob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
        found[path.name] = names
    return found


def test_the_standard_imports_nothing_of_the_stages():
    for module, names in imported("schemas").items():
        leaked = {n for n in names if n.split(".")[0] in STAGES}
        assert not leaked, f"schemas/{module} imports {sorted(leaked)}"


@pytest.mark.parametrize("package", ["extractors", "transforms", "schemas"])
def test_stages_do_not_read_the_configuration_file(package):
    for module, names in imported(package).items():
        assert "jinbao.config" not in names, f"{package}/{module} imports jinbao.config"
        assert "jinbao.cli" not in names, f"{package}/{module} imports jinbao.cli"
