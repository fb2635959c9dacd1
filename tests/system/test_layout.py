"""The house's shape: imports flow one way along the data's path, and no modules import each other.

Read from the source (every ``import`` and ``from … import``, at module level or inside functions), so
a lazy import inside a function counts as much as one at the top.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# The project's packages, lowest first: a package may import only packages of a lower layer (and itself).
# Packages in one layer do not import each other. The data's path runs engine -> calls -> reports.
LAYERS: list[set[str]] = [
    {"engine", "lib", "training"},
    {"privacy"},
    {"accounts"},
    {"calls"},
    {"reports", "dion", "illustrations"},
    {"demo"},
    {"webapp"},
]
RANK = {package: i for i, layer in enumerate(LAYERS) for package in layer}


def _modules() -> dict[str, Path]:
    found = {}
    for package in RANK:
        for path in (REPO / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(REPO).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules that module ``name`` imports (a package's ``__init__`` counts for ``from pkg import``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    targets: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base if is_package else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            candidates = [f"{module}.{alias.name}" for alias in node.names] + [module]
        else:
            continue
        for candidate in candidates:
            # The longest project module the name starts with ("calls.models.Call" -> "calls.models").
            parts = candidate.split(".")
            for end in range(len(parts), 0, -1):
                prefix = ".".join(parts[:end])
                if prefix in modules:
                    if prefix != name:
                        targets.add(prefix)
                    break
    return targets


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_cycle_finding_finds_a_chain_and_ignores_a_tree() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []


def test_no_modules_import_each_other_directly_or_through_a_chain() -> None:
    assert _cycles(_graph()) == []


def test_no_package_imports_one_above_it_or_beside_it() -> None:
    wrong = []
    for module, targets in _graph().items():
        here = module.split(".")[0]
        for target in targets:
            there = target.split(".")[0]
            if there != here and RANK[there] >= RANK[here]:
                wrong.append(f"{module} -> {target}")
    assert wrong == []


def test_the_engine_imports_nothing_of_the_project_but_itself() -> None:
    outside = sorted(
        f"{module} -> {target}"
        for module, targets in _graph().items()
        if module.split(".")[0] == "engine"
        for target in targets
        if target.split(".")[0] != "engine"
    )
    assert outside == []


def test_the_graph_sees_the_imports_it_checks() -> None:
    # Guards the two tests above against a parser that finds nothing: known edges must be there.
    graph = _graph()
    assert "engine.inference" in graph["calls.scoring"]  # a lazy import inside a function
    assert "calls.signals" in graph["reports.apps"]
    assert "engine.labels" in graph["calls.models"]
    assert ".data" not in graph["training.train"] and "training.data" in graph["training.train"]  # relative


def test_the_engine_imports_with_django_unconfigured() -> None:
    """Every engine module imports in a fresh interpreter without settings, and loads no Django and no app."""
    code = (
        "import importlib, pkgutil, sys, engine\n"
        "for m in pkgutil.iter_modules(engine.__path__): importlib.import_module('engine.' + m.name)\n"
        f"apps = {sorted(set(RANK) - {'engine'})!r}\n"
        "bad = sorted(n for n in sys.modules if n.split('.')[0] in ['django', 'channels', 'celery'] + apps)\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_web_process_never_loads_onnx_runtime() -> None:
    """daphne publishes frames and relays scores: the engine's runtime belongs to the workers alone."""
    code = (
        "import os, sys, django\n"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'webapp.settings')\n"
        "django.setup()\n"
        "import webapp.asgi, webapp.urls, calls.consumers, calls.tasks, calls.batching\n"
        "loaded = sorted(n for n in ('onnxruntime', 'torch') if n in sys.modules)\n"
        "print(loaded)\n"
        "sys.exit(1 if loaded else 0)\n"
    )
    from tests.support.servers import base_env  # the run's own secrets when it is on a real database

    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=base_env(), capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
