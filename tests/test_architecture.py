"""Only app/ui/ may import Qt: the core must work headless."""

import re
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app"
QT_IMPORT = re.compile(r"^\s*(from|import)\s+(PySide6|PyQt\d|shiboken6)\b", re.MULTILINE)


def test_no_qt_outside_ui():
    offenders = [str(path.relative_to(APP)) for path in APP.rglob("*.py")
                 if not path.relative_to(APP).parts[0] == "ui" and QT_IMPORT.search(path.read_text())]
    assert offenders == []


WORKER_PROCESSES = {"engine/worker.py", "docs/workers.py"}  # the chat worker; the embedding worker


def test_only_worker_processes_import_llama_cpp():
    offenders = [str(path.relative_to(APP)) for path in APP.rglob("*.py")
                 if re.search(r"^\s*(from|import)\s+llama_cpp\b|import llama_cpp", path.read_text(), re.MULTILINE)
                 and path.relative_to(APP).as_posix() not in WORKER_PROCESSES]
    assert offenders == []


def _imports(path: Path) -> set[str]:
    """Every ``app`` module a file imports, at the top or inside a function."""
    import ast

    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("app"))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module.startswith("app"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def _module_graph() -> dict[str, set[str]]:
    modules = {}
    for path in APP.rglob("*.py"):
        parts = path.relative_to(APP.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    return {name: {m for m in _imports(path) if m in modules and m != name} for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in list(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles_between_modules_or_packages():
    graph = _module_graph()
    assert _cycles(graph) == []
    packages: dict[str, set[str]] = {}
    for module, deps in graph.items():
        top = ".".join(module.split(".")[:2])
        packages.setdefault(top, set()).update(".".join(d.split(".")[:2]) for d in deps)
    for top, deps in packages.items():
        deps.discard(top)
    assert _cycles(packages) == []


def test_the_cycle_check_catches_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_background_jobs_never_capture_the_live_settings():
    """A lambda handed to a lane (``run``/``submit``) gets values or a snapshot, not ``self.settings``."""
    import ast

    offenders = []
    for path in (APP / "ui").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("run", "submit")):
                continue
            for arg in node.args:
                if not isinstance(arg, ast.Lambda):
                    continue
                for inner in ast.walk(arg.body):
                    if (isinstance(inner, ast.Attribute) and inner.attr == "settings"
                            and isinstance(inner.value, ast.Name) and inner.value.id == "self"):
                        offenders.append(f"{path.relative_to(APP)}:{node.lineno}")
    assert offenders == []
