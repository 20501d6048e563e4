"""The Lambda layer ships production code only: no benchmark or evaluation module, and nothing
imported from ``infra`` (development tools: the local stack, stand-ins, benchmarks)."""
from __future__ import annotations

import ast
from pathlib import Path

LAYER = Path(__file__).resolve().parents[2] / "layers" / "core" / "python"


def _modules() -> list[Path]:
    return sorted(p for p in LAYER.rglob("*.py") if "__pycache__" not in p.parts)


def _imports_infra(tree: ast.AST) -> list[int]:
    """Line numbers of ``import infra...``, ``from infra... import`` and
    ``importlib.import_module("infra...")``, at module level or inside functions."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "infra" for a in node.names):
            lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "infra":
            lines.append(node.lineno)
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in
              ("import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant)
              and str(node.args[0].value).split(".")[0] == "infra"):
            lines.append(node.lineno)
    return lines


def test_no_layer_module_imports_infra_when_the_layer_is_walked():
    modules = _modules()
    assert len(modules) > 20  # the walk found the layer
    offenders = {str(p.relative_to(LAYER)): lines for p in modules
                 if (lines := _imports_infra(ast.parse(p.read_text(encoding="utf-8"), filename=str(p))))}
    assert offenders == {}


def test_no_benchmark_module_ships_in_the_layer_when_the_layer_is_walked():
    assert [str(p.relative_to(LAYER)) for p in _modules() if "bench" in str(p.relative_to(LAYER)).lower()] == []


def test_the_walk_catches_infra_imports_anywhere_in_a_module():
    source = ("import os\n"
              "def f():\n    from infra.bench import x\n"
              "def g():\n    import infra.cli\n"
              "def h():\n    import importlib\n    return importlib.import_module('infra.bench.sla')\n"
              "from .infra import fine\n")
    assert _imports_infra(ast.parse(source)) == [3, 5, 8]
