"""The house's shape, read from its imports (ast, function-level imports included): packages in layers that only
import downward, no import circle, model free of Qt, folders and modules of a readable size."""
import ast

import pytest

from .conftest import ROOT

# Lowest first. A module belongs to the longest prefix listed; it may import its own layer and those before it.
LAYERS = [
    ("model.errors", "model.files", "model.help_text"),
    ("model.geometry",),
    ("model.presets",),
    ("model.network",),
    ("model.processing",),
    ("model.data",),
    ("model.weights",),
    ("model.export",),
    ("model.inference",),
    ("model.evaluation",),
    ("model.training",),
    ("model.benchmark",),
    ("model", "model.__main__"),
    ("app.theme",),
    ("app.sources",),
    ("app.panels",),
    ("app.cloud3d",),
    ("app.recording",),
    ("app.stream",),
    ("app.remembered",),
    ("app.window",),
    ("app.headless", "app.gui"),
    ("app",),
]
MAX_MODULES_PER_FOLDER = 12
MAX_LINES = 450


def modules():
    """Module name -> path of every module of app/ and model/."""
    found = {}
    for package in ("app", "model"):
        for path in sorted((ROOT / package).rglob("*.py")):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def imports(name, path, known):
    """The project's modules that ``name`` imports anywhere in its file, resolved to known module names."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            submodules = [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in known]
            targets = submodules + ([base] if len(submodules) < len(node.names) else [])
        else:
            continue
        for target in targets:
            while target and target not in known and "." in target:
                target = target.rpartition(".")[0]
            if target in known and target != name:
                found.add(target)
    return found


def third_party(path):
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def layer_of(name):
    best, index = "", None
    for i, group in enumerate(LAYERS):
        for prefix in group:
            if (name == prefix or name.startswith(prefix + ".")) and len(prefix) > len(best):
                best, index = prefix, i
    return index


@pytest.fixture(scope="module")
def graph():
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def cycles(graph):
    """Every import circle, each as the list of modules along it (Tarjan's strongly connected components)."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_circle_and_passes_a_tree():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []


def test_no_import_circle(graph):
    assert cycles(graph) == []


def test_every_module_has_a_layer(graph):
    assert [name for name in graph if layer_of(name) is None] == []


def test_imports_only_run_down_the_layers(graph):
    upward = [f"{name} -> {target}" for name, targets in graph.items() for target in targets
              if layer_of(target) > layer_of(name)]
    assert upward == []


def test_model_knows_nothing_of_the_gui():
    qt = {"PyQt5", "pyqtgraph", "app"}
    offenders = {name: sorted(third_party(path) & qt) for name, path in modules().items()
                 if name.startswith("model") and third_party(path) & qt}
    assert offenders == {}


def test_folders_and_modules_stay_readable():
    folders, long_modules = {}, []
    for name, path in modules().items():
        if path.name != "__init__.py":
            folders.setdefault(path.parent.relative_to(ROOT), []).append(path.name)
        lines = len(path.read_text().splitlines())
        if lines > MAX_LINES:
            long_modules.append(f"{name}: {lines} lines")
    crowded = {str(folder): len(names) for folder, names in folders.items() if len(names) > MAX_MODULES_PER_FOLDER}
    assert crowded == {} and long_modules == []
