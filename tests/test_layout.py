"""The package reads as the pipeline: imports point down the stages, never up, and never in a circle.

Every `import` and `from … import` inside `rag/` is read with `ast`, those inside functions too (a
lazy import is still a dependency). Each module belongs to the room of the longest prefix below
that names it; a module may import its own room and the rooms of lower layers, nothing beside or
above it. A spec ending in `$` names that module alone (a package's `__init__`).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "rag"

# lowest first; rooms of one layer may not import one another
LAYERS: list[tuple[str, ...]] = [
    ("rag.types", "rag.errors", "rag.paths"),
    ("rag.config",),
    ("rag.text",),
    ("rag.ingest", "rag.embedding"),
    ("rag.store",),
    ("rag.retrieve", "rag.indexing"),
    ("rag.bases",),  # several knowledge bases: which exist, their folders and settings (issue 36)
    ("rag.source_view",),  # see the source: excerpts and highlighted PDF pages of what the index holds
    ("rag.read",),  # base (the Reader protocol), question analysis, compose: what both readers share
    ("rag.read.rules", "rag.read.model"),
    ("rag.read$",),  # open_reader: the factory that picks one
    ("rag.faq",),  # curated question–answer pairs, consulted before reading (issue 36)
    ("rag.assistant",),
    ("rag.evaluation",),
    ("rag.train",),  # training and calibration sit above answering and evaluation
    ("rag.usage",),  # the question log, and calibration of a knowledge base from its judged questions
    ("rag.serve",),
    ("rag.cli",),
    ("rag$", "rag.__main__"),
]


def _matches(spec: str, module: str) -> bool:
    if spec.endswith("$"):
        return module == spec[:-1]
    return module == spec or module.startswith(spec + ".")


def room_of(module: str) -> tuple[int, str]:
    found = [(len(spec.rstrip("$")) + spec.endswith("$"), layer, spec) for layer, specs in enumerate(LAYERS) for spec in specs if _matches(spec, module)]
    if not found:
        raise AssertionError(f"{module} is in no layer of tests/test_layout.py: give it a room")
    _, layer, spec = max(found)
    return layer, spec


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """The rag modules a file imports (for `from x import y`, x.y when that is a module, else x)."""
    tree = ast.parse(path.read_text("utf-8"))
    this = module_name(path)
    package = this if path.name == "__init__.py" else this.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(parent + ([base] if base else []))
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if _is_module(candidate) else base)
    return {name for name in found if name == "rag" or name.startswith("rag.")}


def _is_module(name: str) -> bool:
    path = ROOT / name.replace(".", "/")
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def graph() -> dict[str, set[str]]:
    return {module_name(p): imports_of(p) for p in sorted(PACKAGE.rglob("*.py"))}


def test_every_module_has_a_room():
    for module in graph():
        room_of(module)


def test_imports_point_down_the_stages():
    upward = []
    for module, targets in graph().items():
        layer, room = room_of(module)
        for target in sorted(targets):
            their_layer, their_room = room_of(target)
            if their_room != room and their_layer >= layer:
                upward.append(f"{module} ({room}) imports {target} ({their_room})")
    assert not upward, "imports that do not point down:\n" + "\n".join(upward)


def test_no_import_circles():
    edges = graph()
    state: dict[str, int] = {}
    circles = []

    def visit(module: str, trail: list[str]) -> None:
        state[module] = 1
        for target in sorted(edges.get(module, ())):
            if target == module or target not in edges:
                continue
            if state.get(target) == 1:
                circles.append(" -> ".join(trail[trail.index(target) :] + [target]))
            elif target not in state:
                visit(target, trail + [target])
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert not circles, "import circles:\n" + "\n".join(circles)


@pytest.mark.parametrize(
    "module, target, allowed",
    [
        ("rag.read.rules.extractor", "rag.read.compose", True),  # down a layer
        ("rag.store.files", "rag.retrieve.hybrid", False),  # up
        ("rag.ingest.load", "rag.embedding.embedder", False),  # beside
        ("rag.read", "rag.read.model.reader", True),  # the factory above the readers
        ("rag.read.model.reader", "rag.read.rules.extractor", False),  # one reader may not lean on the other
    ],
)
def test_the_rule_itself(module, target, allowed):
    layer, room = room_of(module)
    their_layer, their_room = room_of(target)
    assert (their_room == room or their_layer < layer) is allowed
