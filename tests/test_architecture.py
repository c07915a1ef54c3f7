"""The lines the architecture holds: a pure clinical core, one FHIR-model import point."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cds_service"
FORBIDDEN_IN_CORE = (
    "flask",
    "requests",
    "fhir",
    "werkzeug",
    "cds_service.fhir",
    "cds_service.web",
    "cds_service.protocol",
)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted((PACKAGE / "clinical").glob("*.py")), ids=lambda p: p.name)
def test_clinical_core_imports_no_io_or_protocol(path: Path) -> None:
    bad = {
        n
        for n in _imports(path)
        if n.split(".")[0] in FORBIDDEN_IN_CORE or any(n.startswith(f) for f in FORBIDDEN_IN_CORE)
    }
    assert bad == set()


@pytest.mark.parametrize("path", sorted((PACKAGE / "clinical").glob("*.py")), ids=lambda p: p.name)
def test_clinical_core_never_reads_the_clock(path: Path) -> None:
    text = path.read_text("utf-8")
    assert not re.search(r"\b(datetime\.now|datetime\.utcnow|date\.today|time\.time)\(", text)


def test_fhir_resources_is_imported_in_one_module_only() -> None:
    users = [
        p.relative_to(PACKAGE).as_posix()
        for p in PACKAGE.rglob("*.py")
        if any(n.startswith("fhir.resources") for n in _imports(p))
    ]
    assert users == ["fhir/r4.py"]


def test_no_module_level_flask_app() -> None:
    for path in PACKAGE.rglob("*.py"):
        assert not re.search(r"^app\s*=\s*(Flask|create_app)\(", path.read_text("utf-8"), re.M)
