"""The rules docs/architecture.md states about the package, checked on the source as Python would import it.

The layers, lowest first: a module may import its own package and any package of a lower layer, never one above
it nor a sibling of its own layer (backends never import github/, and github/ never imports a backend).
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "retrain"

# docs/architecture.md's map of packages, lowest layer first; one line per layer.
LAYERS = (
    ("",),  # the root: what every room uses (errors, escaping, HTTP, ...)
    ("pipeline",),
    ("backends", "github"),
    ("registry",),
    ("config",),
    ("review",),
    ("flow",),
    ("report",),
    ("action",),
    ("cli",),
)
MAX_ROOT_MODULES = 10
MAX_LINES = 450
# A module over MAX_LINES says why at its top, in its docstring, with these words.
LONG_REASON = "Longer than 450 lines because"


def modules() -> dict[str, tuple[Path, bool]]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def imports() -> list[tuple[str, str, int]]:
    """(importer, imported module, line) for every import of retrain's own modules, at any depth (a function's
    lazy import counts: it is a dependency all the same). ``if TYPE_CHECKING:`` blocks do not import."""
    known = modules()
    found = []
    for name, (path, is_package) in known.items():
        package = name.split(".") if is_package else name.split(".")[:-1]
        tree = ast.parse(path.read_text(), str(path))

        def visit(node: ast.AST) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                    continue
                if isinstance(child, ast.ImportFrom):
                    base = package[: len(package) - child.level + 1] if child.level else []
                    target = ".".join(base + ([child.module] if child.module else []))
                    if target.split(".")[0] == "retrain":
                        for alias in child.names:
                            sub = f"{target}.{alias.name}"
                            found.append((name, sub if sub in known else target, child.lineno))
                elif isinstance(child, ast.Import):
                    found.extend((name, a.name, child.lineno) for a in child.names if a.name.split(".")[0] == "retrain")
                visit(child)

        visit(tree)
    return found


def room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and (PACKAGE / parts[1]).is_dir()) else ""


def layer(module: str) -> int:
    return next(i for i, rooms in enumerate(LAYERS) if room(module) in rooms)


def test_every_package_has_a_layer():
    packages = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists())
    assert packages == sorted(r for rooms in LAYERS for r in rooms if r)


def test_the_root_keeps_only_what_every_room_uses():
    root = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(root) <= MAX_ROOT_MODULES, root


def test_no_module_imports_a_room_above_or_beside_it():
    wrong = [f"{a} (line {line}) imports {b}" for a, b, line in imports()
             if a != "retrain.__main__" and room(a) != room(b) and layer(b) >= layer(a)]
    assert wrong == []


def test_no_import_cycle():
    edges: dict[str, set[str]] = {}
    for a, b, _ in imports():
        if a != b:
            edges.setdefault(a, set()).add(b)
    cycles = []

    def reach(start: str) -> None:
        stack, seen = [(start, (start,))], set()
        while stack:
            node, path = stack.pop()
            for nxt in edges.get(node, ()):
                if nxt == start:
                    cycles.append(" -> ".join(path + (start,)))
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, path + (nxt,)))

    for module in sorted(edges):
        reach(module)
    # A package importing its own modules from __init__ is how a package shows its face, not a cycle, unless a
    # module also imports the package back: that is listed too.
    assert cycles == []


def test_long_modules_say_why():
    long = []
    for name, (path, _) in sorted(modules().items()):
        text = path.read_text()
        lines = text.count("\n")
        docstring = ast.get_docstring(ast.parse(text)) or ""
        if lines > MAX_LINES and LONG_REASON not in " ".join(docstring.split()):
            long.append(f"{name}: {lines} lines")
    assert long == []


# What each verb may load: `retrain validate` reads the parameter file and the pipeline, nothing else; `--help`
# loads nothing beyond the parser. Checked on sys.modules after the verb ran, in a fresh interpreter.
LOADED = """
import sys
from retrain.cli.main import main
code = main(sys.argv[1:], {})
print("\\n".join(sorted(sys.modules)))
sys.exit(0 if code in (0,) else code)
"""


def loaded_by(argv: list[str], cwd: Path) -> set[str]:
    done = subprocess.run([sys.executable, "-c", LOADED, *argv], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(PACKAGE.parent)})  # this tree's retrain, not an installed one
    assert done.returncode == 0, done.stderr
    return set(done.stdout.split())


# (the verb, the rooms it may load, libraries it must not): a verb that only reads files needs no HTTP, no
# templates, no database and no Azure; nor shutil, which argparse's own formatter would load for its width.
VERBS = [
    (["--help"], {"retrain.cli.main", "retrain.flow.signals"}, {"yaml", "requests", "jinja2", "msal", "sqlite3", "shutil"}),
    (["validate"], {"retrain.cli", "retrain.config", "retrain.pipeline", "retrain.backends.base",
                    "retrain.github.dispatch_form", "retrain.flow.signals"},
     {"requests", "jinja2", "msal", "sqlite3", "shutil"}),
]


@pytest.mark.parametrize("argv, rooms, libraries", VERBS, ids=[" ".join(v[0]) for v in VERBS])
def test_each_verb_loads_only_its_rooms(argv, rooms, libraries):
    loaded = loaded_by(argv, PACKAGE.parent / "examples" / "income")
    ours = {m for m in loaded if m.startswith("retrain.") and room(m) and not (PACKAGE / m.split(".", 1)[1].replace(".", "/")).is_dir()}
    outside = sorted(m for m in ours if not any(m == r or m.startswith(r + ".") for r in rooms))
    assert outside == []
    assert sorted(libraries & loaded) == []


# What only reads the store and prints: no judging (the gate, the promotion, decimal), no templates, no HTTP.
JUDGING = {"retrain.review.promote", "retrain.review.gate", "retrain.review.baseline", "retrain.config.gate", "decimal",
           "jinja2", "requests", "msal"}


@pytest.mark.parametrize("argv", [["runs"], ["endpoints"], ["history", "tiny"]], ids=" ".join)
def test_a_verb_that_lists_loads_no_judging(project: Path, tmp_path: Path, argv: list[str]) -> None:
    """On a store with a version and a reviewed run to list, as a user's has."""
    env = {**os.environ, "PYTHONPATH": str(PACKAGE.parent), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    submitted = subprocess.run([sys.executable, "-m", "retrain", "submit", "tiny"], cwd=project, env=env,
                               capture_output=True, text=True)
    assert submitted.returncode == 0, submitted.stderr
    assert sorted(JUDGING & loaded_by(argv, project)) == []


# The command as its console script runs it, counting the collector's runs from its entry on.
COLLECTIONS = """
import atexit, gc, sys
from retrain.cli.main import main_entry
runs = []
gc.callbacks.append(lambda phase, info: runs.append(info["generation"]) if phase == "start" else None)
atexit.register(lambda: print("collections:", len(runs)))
sys.argv = ["retrain", *sys.argv[1:]]
main_entry()
"""


def test_a_command_starts_without_collecting_garbage(project: Path, tmp_path: Path) -> None:
    """A command's start-up makes next to no garbage in cycles; the collector, run every 700 new objects, ran ~25
    times in it (cli/main.py, GC_YOUNGEST). Fails when a command's start-up has grown past 50,000 objects."""
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "PYTHONPATH": str(PACKAGE.parent)}
    for argv in (["validate"], ["publish"], ["submit", "tiny"]):
        done = subprocess.run([sys.executable, "-c", COLLECTIONS, *argv], cwd=project, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert (argv, done.stdout.splitlines()[-1]) == (argv, "collections: 0")


# What a local submit has loaded when it forks the run's worker: what the run needs, and not what only comes after
# the step starts (following, judging, reporting a review) nor what the file does not use (a gate, a sweep), nor
# shutil (a copy's: outputs are shared by links). A step's start waits for every module loaded before it
# (docs/local-backend.md, "What it costs").
AT_FORK = """
import os, sys
at_fork = []
sys.addaudithook(lambda event, args: at_fork.append(sorted(sys.modules)) if event == "os.fork" and not at_fork else None)
from retrain.cli.main import main
from retrain.pipeline import hashing
hashing.RACY_S = -1.0  # files written just now are remembered too: the test's submit rewrites a digest file
code = main(sys.argv[1:], {**os.environ, "XDG_CACHE_HOME": os.environ["CACHE"]})
with open(os.environ["LOADED"], "w") as f:
    f.write("\\n".join(at_fork[0]) if at_fork else "no fork")
sys.exit(code)
"""

AFTER_THE_STEP_STARTS = {"retrain.flow.follow", "retrain.review.promote", "retrain.review.baseline",
                         "retrain.review.gate", "retrain.review.report", "retrain.config.gate",
                         "retrain.config.promote_block", "retrain.pipeline.tasks", "decimal", "random", "yaml",
                         "jinja2", "requests", "msal", "shutil", "tempfile"}


def test_a_local_submit_forks_its_worker_before_loading_what_comes_after(project: Path, tmp_path: Path) -> None:
    listing = tmp_path / "loaded.txt"
    env = {**os.environ, "CACHE": str(tmp_path / "cache"), "LOADED": str(listing), "PYTHONPATH": str(PACKAGE.parent)}
    published = subprocess.run([sys.executable, "-c", AT_FORK, "publish"], cwd=project, env=env, capture_output=True, text=True)
    assert published.returncode == 0 and listing.read_text() == "no fork", published.stderr
    # A file of the pipeline touched since: the submit writes its digest anew before the fork, as a user's does.
    digests = list((tmp_path / "cache" / "retrain" / "digests").iterdir())
    written = {d: d.stat().st_mtime_ns for d in digests}
    script = project / "pipelines" / "tiny" / "src" / "train.py"
    script.write_text(script.read_text())
    done = subprocess.run([sys.executable, "-c", AT_FORK, "submit", "tiny"], cwd=project, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert any(d.stat().st_mtime_ns != ns for d, ns in written.items())  # the digest was written again
    loaded = set(listing.read_text().split())
    assert "retrain.backends.local.executor" in loaded  # the fork happened, with the worker's code loaded
    assert sorted(AFTER_THE_STEP_STARTS & loaded) == []  # the files were remembered by the publish: no PyYAML
