"""The house stays clean: data flows down, one floor at a time.

Every import in the package is read from the source (module level and inside functions, both
`import x` and `from x import y`, absolute and relative). The test fails on an import from a
lower floor to a higher one and on any cycle between modules. Floors, from the top:

    7  rnnlab (the package face), rnnlab.__main__, rnnlab.torch, rnnlab.app
    6  rnnlab.experiments
    5  rnnlab.viz, rnnlab.interop
    4  rnnlab.training (api, defaults, trainer, hooks, run_folder, load, backtest,
       distributed, launch)
    3  rnnlab.tasks
    2  rnnlab.nn, rnnlab.data            (the engine; file formats)
    1  rnnlab.fileio, rnnlab.interrupt
    0  rnnlab.errors, rnnlab._version, rnnlab.defaults, rnnlab.validate    (leaves)

Inside the engine the same rule holds one level down: the layers may import the cells and the
kernels, never the other way round, and the registry sits above the layers.
"""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "rnnlab"

FLOORS = [  # (module prefix, floor); the longest matching prefix wins
    ("rnnlab", 7), ("rnnlab.__main__", 7), ("rnnlab.torch", 7), ("rnnlab.app", 7),
    ("rnnlab.experiments", 6),
    ("rnnlab.viz", 5), ("rnnlab.interop", 5), ("rnnlab.serve", 5),
    ("rnnlab.training", 4),
    ("rnnlab.tasks", 3),
    ("rnnlab.nn", 2), ("rnnlab.data", 2),
    ("rnnlab.fileio", 1), ("rnnlab.interrupt", 1),
    ("rnnlab.errors", 0), ("rnnlab._version", 0), ("rnnlab.defaults", 0), ("rnnlab.validate", 0),
]
ENGINE = [  # floors inside rnnlab.nn
    ("rnnlab.nn", 9), ("rnnlab.nn.registry", 8), ("rnnlab.nn.layers", 7),
    ("rnnlab.nn.blocks", 6), ("rnnlab.nn.optim", 6),
    ("rnnlab.nn.cells", 5), ("rnnlab.nn.kernels", 5), ("rnnlab.nn.losses", 5),
    ("rnnlab.nn.module", 4), ("rnnlab.nn.backend", 4), ("rnnlab.nn.compiling", 4),
    ("rnnlab.nn.functional", 3), ("rnnlab.nn.checks", 3), ("rnnlab.nn.cell_memory", 3),
]


def module_name(path):
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules():
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name, path, known):
    """The package modules `name` imports, anywhere in its source."""
    is_pkg = path.name == "__init__.py"
    here = name.split(".") if is_pkg else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = here[:len(here) - node.level + 1] if node.level else []
            mod = ".".join(base + ([node.module] if node.module else []))
            # `from pkg import name`: name may be a submodule or an attribute of pkg
            targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in known else mod
                       for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in known:          # `import a.b.c` where c is an attribute
                t = t.rpartition(".")[0]
            if t.startswith("rnnlab") and t != name:
                found.add(t)
    return found


def floor(name, table):
    best = max((p for p, _ in table if name == p or name.startswith(p + ".")), key=len,
               default=None)
    return dict(table)[best] if best is not None else None


GRAPH = {name: imports_of(name, path, modules()) for name, path in modules().items()}


def _edges():
    return sorted((a, b) for a, deps in GRAPH.items() for b in deps)


@pytest.mark.parametrize("table", [FLOORS, ENGINE], ids=["floors", "engine"])
def test_nothing_imports_upward(table):
    upward = []
    for a, b in _edges():
        fa, fb = floor(a, table), floor(b, table)
        if fa is None or fb is None or b == "rnnlab":
            continue
        if table is ENGINE and not (a.startswith("rnnlab.nn.") and b.startswith("rnnlab.nn.")):
            continue
        if fb > fa:
            upward.append(f"{a} (floor {fa}) imports {b} (floor {fb})")
    assert not upward, "imports that run upward:\n" + "\n".join(upward)


def test_every_module_has_a_floor():
    assert [m for m in GRAPH if floor(m, FLOORS) is None] == []


def test_no_cycles():
    """No module reaches itself through imports (Tarjan's strongly connected components),
    package faces (__init__) included, except a package importing its own submodules, which
    Python resolves without a loop."""
    def deps(m):
        return {d for d in GRAPH[m] if not m.startswith(d + ".")}   # child -> its package face

    index, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in deps(v):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    for m in sorted(GRAPH):
        if m not in index:
            visit(m)
    assert comps == [], f"import cycles: {comps}"


def test_the_reader_finds_the_import_of_a_submodule():
    """The parser itself: a relative `from . import x` and a function-level import are seen."""
    assert "rnnlab.nn.cells.lstm" in GRAPH["rnnlab.nn.layers.lstm"]
    assert "rnnlab.nn.kernels.lstm" in GRAPH["rnnlab.nn.layers.lstm"]      # inside _kernel()
    assert "rnnlab.tasks.registry" in GRAPH["rnnlab.training.load"]


def test_modules_stay_readable():
    """About 300 lines a module, none over 400."""
    long = {m: n for m, p in modules().items()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400}
    assert long == {}


# ---- manners: what one module may take from another ---------------------------------------
def private_imports(name, path, known):
    """`from M import _x` where _x is a private name of another module (a package may import
    its own private submodules, such as nn.cells._minscan)."""
    is_pkg = path.name == "__init__.py"
    here = name.split(".") if is_pkg else name.split(".")[:-1]
    bad = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.ImportFrom):
            continue
        base = here[:len(here) - node.level + 1] if node.level else []
        mod = ".".join(base + ([node.module] if node.module else []))
        for a in node.names:
            private = a.name.startswith("_") and not a.name.startswith("__")
            if private and f"{mod}.{a.name}" not in known:
                bad.append(f"{name}:{node.lineno} imports {a.name} from {mod}")
        parts = mod.split(".")
        for i, part in enumerate(parts):       # a private module outside its own package
            if part.startswith("_") and not part.startswith("__") and \
                    not (".".join(here) + ".").startswith(".".join(parts[:i]) + "."):
                bad.append(f"{name}:{node.lineno} imports from {mod}, private to "
                           f"{'.'.join(parts[:i])}")
    return bad


def test_no_private_name_is_taken_from_another_module():
    known = modules()
    bad = [b for name, path in known.items() for b in private_imports(name, path, known)]
    assert not bad, "private names imported (add a public hook instead):\n" + "\n".join(bad)


TASK_NAMES = {"text", "series", "music", "melody", "roll", "panel"}


def task_branches(path):
    """Comparisons with a task's name (`task == "series"`, `kind in ("music", ...)`)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Compare):
            for side in (node.left, *node.comparators):
                items = side.elts if isinstance(side, (ast.Tuple, ast.List, ast.Set)) else [side]
                if any(isinstance(e, ast.Constant) and e.value in TASK_NAMES for e in items):
                    found.append(f"{path.name}:{node.lineno} {ast.unparse(node)}")
    return found


def test_no_command_branches_on_a_task_name():
    """A command asks the trained model or the task registry; a new task needs no edit here."""
    found = [f for p in sorted((PACKAGE / "app" / "commands").glob("*.py"))
             for f in task_branches(p)]
    assert not found, "commands that branch on a task's name:\n" + "\n".join(found)


def test_the_manners_checks_can_fail(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from rnnlab.fileio import _fsync_dir\nif model.cfg.task != 'series':\n"
                   "    from ..nn.kernels._common import Workspace\n")
    assert private_imports("rnnlab.tasks.bad", bad, modules()) == [
        "rnnlab.tasks.bad:1 imports _fsync_dir from rnnlab.fileio",
        "rnnlab.tasks.bad:3 imports from rnnlab.nn.kernels._common, private to rnnlab.nn.kernels"]
    assert task_branches(bad) == ["bad.py:2 model.cfg.task != 'series'"]


def environ_writes(path):
    """Statements run at import (outside any function or class) that write os.environ:
    importing rnnlab must not change the user's environment, which child processes inherit."""
    found = []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for stmt in tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for node in ast.walk(stmt):
            hit = False
            if isinstance(node, (ast.Assign, ast.Delete, ast.AugAssign)):
                targets = node.targets if hasattr(node, "targets") else [node.target]
                hit = any(isinstance(t, ast.Subscript) and ast.unparse(t.value) == "os.environ"
                          for t in targets)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                hit = (ast.unparse(node.func.value) == "os.environ" and node.func.attr in
                       ("setdefault", "update", "pop", "popitem", "clear")) or \
                    ast.unparse(node.func) in ("os.putenv", "os.unsetenv")
            if hit:
                found.append(f"{path.name}:{node.lineno} {ast.unparse(node)}")
    return found


def test_no_module_writes_the_environment_at_import(tmp_path):
    found = [f for p in sorted(PACKAGE.rglob("*.py")) for f in environ_writes(p)]
    assert not found, "module-level writes to os.environ:\n" + "\n".join(found)
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nos.environ.setdefault('X', '1')\nif True:\n"
                   "    os.environ['Y'] = '2'\ndef f():\n    os.environ['Z'] = '3'\n")
    assert environ_writes(bad) == ["bad.py:2 os.environ.setdefault('X', '1')",
                                   "bad.py:4 os.environ['Y'] = '2'"]
