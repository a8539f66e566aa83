"""The engine's modules import each other one way only at run time (issue 10, "Layout"): the
shim's config, the events log and the teardown are leaves, so the engine, the shim
and spawn form no cycle, even counting imports made inside functions. And the click
entry point does not reach into the launcher."""

from __future__ import annotations

import ast
import os

import berth

SRC = os.path.dirname(berth.__file__)


def _imports(module: str) -> set[str]:
    path = os.path.join(SRC, *module.split(".")[1:]) + ".py"
    with open(path) as f:
        tree = ast.parse(f.read())
    found = set()
    for node in _walk_runtime(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


def _walk_runtime(node: ast.AST) -> list[ast.AST]:
    """Every node, except what sits under ``if TYPE_CHECKING:`` (imports for mypy only)."""
    out = [node]
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and isinstance(child.test, ast.Name) and child.test.id == "TYPE_CHECKING":
            continue
        out.extend(_walk_runtime(child))
    return out


def _package_modules(package: str) -> list[str]:
    folder = os.path.join(SRC, *package.split(".")[1:])
    return [f"{package}.{name[:-3]}" for name in sorted(os.listdir(folder))
            if name.endswith(".py") and name != "__init__.py"]


def _graph(package: str) -> dict[str, set[str]]:
    modules = _package_modules(package)
    return {m: {i for i in _imports(m) if i in modules and i != m} for m in modules}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_engine_package_has_no_import_cycle() -> None:
    assert _cycle(_graph("berth.engine")) is None


def test_the_cycle_finder_finds_one() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_leaves_import_no_engine_module_but_each_other() -> None:
    graph = _graph("berth.engine")
    assert graph["berth.engine.shimconfig"] == set()
    assert graph["berth.engine.events"] == set()
    assert "berth.engine.engine" not in graph["berth.engine.teardown"]
    assert "berth.engine.engine" not in graph["berth.engine.shim"]


def test_the_click_entry_point_does_not_import_the_launcher() -> None:
    assert not {i for i in _imports("berth.cli.main") if i.startswith("berth.cli.launch")}
    assert "berth.cli.settings" in _imports("berth.cli.main")
