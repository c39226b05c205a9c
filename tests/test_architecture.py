"""The layer rule (docs/architecture.md), checked on the source: no import points up a layer, no cycles.

Every ``import`` in ``src/colorize`` counts, function-local ones included; only imports under
``if TYPE_CHECKING:`` are exempt (they never run). A module's layer is looked up by its first
name below ``colorize`` (``colorize.models.weights`` is ``models``, ``colorize.cli.photo`` is
``cli``), so a package is one node: its own submodules may import each other freely.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "colorize"

# Lower layers first. A module may import from its own layer (without a cycle) and from any lower one.
LAYERS: list[set[str]] = [
    # 0: leaves -- colour science, ab bins and their decode, filters, the C kernel, image I/O, errors, devices, progress
    {"errors", "runtime", "imaging", "color", "bins", "decode", "gridgraph", "filters", "kernels", "io", "progress", "_version"},
    # 1: what the model sees, the models, the losses and the metrics
    {"render", "models", "losses", "metrics", "perceptual", "data", "options"},
    # 2: the library's jobs
    {"backends", "pipeline", "export", "hints", "reference", "guidance", "suggest", "video", "train", "evaluate", "scale"},
    # 3: front-ends
    {"cli", "web", "__main__"},
]
ROOT = "__init__"  # the package's lazy facade may name anything (its imports are lazy and one-way)


def _layer_of(name: str) -> int:
    for i, members in enumerate(LAYERS):
        if name in members:
            return i
    raise AssertionError(f"colorize.{name} is in no layer: add it to LAYERS in tests/test_architecture.py "
                         "and to docs/architecture.md")


def _node(path: Path) -> str:
    rel = path.relative_to(SRC).with_suffix("")
    return rel.parts[0]


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(path: Path, src: Path = SRC) -> set[str]:
    """First-level ``colorize`` submodules that ``path`` imports (outside TYPE_CHECKING blocks)."""
    tree = ast.parse(path.read_text(), str(path))
    rel = path.relative_to(src)
    package_parts = ["colorize", *rel.parts[:-1]]  # the package the module lives in
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "colorize" and len(parts) > 1:
                    found.add(parts[1])
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package_parts[: len(package_parts) - (node.level - 1)]
                target = [*base, *(node.module.split(".") if node.module else [])]
            else:
                target = node.module.split(".") if node.module else []
            if target[:1] == ["colorize"]:
                if len(target) > 1:
                    found.add(target[1])
                else:  # "from . import x" at the top level: x is a module (or a name of __init__)
                    for alias in node.names:
                        if (src / f"{alias.name}.py").exists() or (src / alias.name).is_dir():
                            found.add(alias.name)
                        else:
                            found.add(ROOT)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        if path == SRC / "__init__.py":
            continue
        node = _node(path)
        graph.setdefault(node, set()).update(_imports(path) - {node})
    return graph


def test_every_module_has_a_layer() -> None:
    for node in _graph():
        _layer_of(node)


def test_no_import_points_up_a_layer() -> None:
    upward = []
    for node, deps in sorted(_graph().items()):
        for dep in sorted(deps):
            if dep == ROOT:
                upward.append(f"colorize.{node} imports the package facade (colorize/__init__); import the module itself")
            elif _layer_of(dep) > _layer_of(node):
                upward.append(f"colorize.{node} (layer {_layer_of(node)}) imports colorize.{dep} (layer {_layer_of(dep)})")
    assert not upward, "\n".join(upward)


def test_no_import_cycles() -> None:
    graph = _graph()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(n: str) -> None:
        state[n] = 1
        stack.append(n)
        for d in sorted(graph.get(n, ())):
            if d not in graph:
                continue
            if state.get(d) == 1:
                cycles.append(stack[stack.index(d):] + [d])
            elif d not in state:
                dfs(d)
        stack.pop()
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            dfs(n)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


@pytest.mark.parametrize("source, expected", [
    ("from .color import x\n", {"color"}),
    ("def f():\n    from .pipeline import Colorizer\n", {"pipeline"}),
    ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .pipeline import Colorizer\n", set()),
    ("import colorize.models.weights\n", {"models"}),
])
def test_the_checker_sees_imports(tmp_path: Path, source: str, expected: set[str]) -> None:
    """The checker itself: function-local imports count, TYPE_CHECKING ones do not."""
    fake = tmp_path / "colorize"
    fake.mkdir()
    for name in ("color", "pipeline"):
        (fake / f"{name}.py").write_text("")
    (fake / "models").mkdir()
    mod = fake / "thing.py"
    mod.write_text(source)
    assert _imports(mod, fake) == expected
