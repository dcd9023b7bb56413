"""The engine's packages import one way: each only from the layers below it (docs/architecture.md), never
from a later stage, and never ``nuke``; the Nuke plugin never imports the engine or torch."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ENGINE = REPO / "latentswap_core"
# docs/architecture.md's layers, lowest first: a unit imports only from lower layers (and from itself).
LAYERS = (
    ("errors", "cpu", "user_cache"),
    ("geometry", "devices", "progress", "pretrained_search", "face_selection", "identity", "lazy", "engine_id"),
    ("io",),
    ("color", "align"),
    ("track", "blend", "faceset", "transcode"),
    ("faceset_coverage", "extract", "codecs"),
    ("models",),
    ("train",),
    ("refine",),
    ("swap", "evaluate"),
    ("demo",),
    ("cli",),
    ("__main__", "__init__"),
)
RANK = {unit: rank for rank, units in enumerate(LAYERS) for unit in units}


def engine_imports(path: Path) -> set[str]:
    """The engine units a module imports anywhere in it (lazy imports inside functions too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
            [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
        for name in names:
            parts = name.split(".")
            if parts[0] == "latentswap_core" and len(parts) > 1:
                found.add(parts[1])
            if parts[0] == "nuke":
                found.add("nuke")
    return found


def unit_of(path: Path) -> str:
    return path.relative_to(ENGINE).with_suffix("").parts[0]


def test_every_engine_unit_has_a_layer() -> None:
    units = {unit_of(path) for path in ENGINE.rglob("*.py")}
    assert units - set(RANK) == set(), "add the new unit to docs/architecture.md and LAYERS"


def test_imports_go_down_the_layers_only() -> None:
    wrong = []
    for path in sorted(ENGINE.rglob("*.py")):
        unit = unit_of(path)
        for imported in engine_imports(path) - {unit}:
            if imported == "nuke" or RANK.get(imported, 99) >= RANK[unit]:
                wrong.append(f"{path.relative_to(REPO)} ({unit}, layer {RANK[unit]}) imports {imported} "
                             f"(layer {RANK.get(imported, '?')})")
    assert wrong == []


def test_the_layers_are_those_the_architecture_page_documents() -> None:
    text = (REPO / "docs" / "architecture.md").read_text()
    for rank, units in enumerate(LAYERS[:-1]):
        line = next((line for line in text.splitlines() if line.startswith(f"| {rank} |")), "")
        assert all(f"`{unit}`" in line for unit in units), (rank, units, line)


def test_the_plugin_never_imports_the_engine_or_torch() -> None:
    for path in sorted((REPO / "nuke_plugin").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            assert not any(name.split(".")[0] in ("latentswap_core", "torch", "numpy") for name in names), path
