"""The package's shape, checked from its source: no import cycle between paperfeed modules, every module
imports on its own in a fresh interpreter, and web/'s feature modules share code only through the kit.

What counts as an import: every ``import``/``from … import`` of a paperfeed module, at module level and
inside functions alike (a lazy import only defers a cycle to run time; the CLI's cycle was one), except
those under ``if TYPE_CHECKING:``, which never run. ``from paperfeed.x import y`` is an edge to module
``paperfeed.x.y`` when that is a module, else to ``paperfeed.x``. The implicit import of a parent package
is not an edge (a package's ``__init__`` may import its own modules). The modules are the files Python can
import as ``paperfeed.…``: storage/migrations/ holds scripts that alembic loads by path, not modules.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from functools import cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "paperfeed"

# web/: the kit (and app, routes, which assemble the features) may be imported by every feature module;
# every other web module is a feature, and imports the kit and the layers below, never another feature.
KIT = {
    "kit",
    "bodies",
    "cards",
    "params",
    "app",
    "routes",
    "assets",
    "csrf",
    "limits",
    "cache",
    "remembered",
    "serialize",
    "schemas",
    "citing",
    "__init__",
}
ASSEMBLERS = {"app", "routes"}  # the kit modules that may import feature modules


@cache
def modules() -> dict[str, Path]:
    """Every importable module of the package, by dotted name."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if not _in_packages(path):
            continue
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _in_packages(path: Path) -> bool:
    """Whether every folder from ``path``'s up to the package's own has an ``__init__.py``."""
    folder = path.parent
    while (folder / "__init__.py").exists():
        if folder == PACKAGE:
            return True
        folder = folder.parent
    return False


def _type_checking_only(tree: ast.Module) -> set[int]:
    """The ids of the nodes inside ``if TYPE_CHECKING:`` blocks."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) in {"TYPE_CHECKING", "typing.TYPE_CHECKING"}:
            skipped.update(id(inner) for statement in node.body for inner in ast.walk(statement))
    return skipped


def _targets(name: str, node: ast.Import | ast.ImportFrom) -> set[str]:
    known = modules()
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names if alias.name in known}
    if node.level:  # relative: resolved against the importing module's package
        package = name.split(".") if known[name].name == "__init__.py" else name.split(".")[:-1]
        base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
    else:
        base = node.module or ""
    found = set()
    for alias in node.names:
        if f"{base}.{alias.name}" in known:
            found.add(f"{base}.{alias.name}")
        elif base in known:
            found.add(base)
    return found


@cache
def import_graph() -> dict[str, frozenset[str]]:
    """Module → the paperfeed modules it imports (see the module docstring for what counts)."""
    graph = {}
    for name, path in modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        skipped = _type_checking_only(tree)
        edges: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom) and id(node) not in skipped:
                edges |= _targets(name, node)
        graph[name] = frozenset(edges - {name})
    return graph


def find_cycle(graph: dict[str, frozenset[str]]) -> list[str] | None:
    """One cycle as a path that ends where it starts, or None (depth-first search, three colours)."""
    state: dict[str, int] = {}  # absent: not seen; 1: on the current path; 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": frozenset({"b"}), "b": frozenset({"c"}), "c": frozenset({"a"}), "d": frozenset({"a"})}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": frozenset({"b"}), "b": frozenset()}) is None


def test_the_graph_sees_imports_in_functions_but_not_type_checking_ones() -> None:
    graph = import_graph()
    assert "paperfeed.commands.context" in graph["paperfeed.cli"]
    assert "paperfeed.search.hybrid" in graph["paperfeed.commands.search"]  # imported inside a function
    assert "paperfeed.ingest.arxiv_api" in graph["paperfeed.ingest.submit"]
    assert not any(name.startswith("paperfeed.storage.migrations") for name in modules())


def test_no_import_cycle_between_paperfeed_modules() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


# Imports each module named on stdin in turn, forgetting every paperfeed module before each one, so that
# each is imported as a fresh interpreter would (third-party modules stay loaded: they are not under test,
# and loading them once keeps this to a few seconds). Prints {module: traceback} for the failures.
_IMPORT_EACH = """
import importlib, json, sys, traceback
failed = {}
for name in sys.stdin.read().split():
    for loaded in [m for m in sys.modules if m == "paperfeed" or m.startswith("paperfeed.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except BaseException:
        failed[name] = traceback.format_exc()
print(json.dumps(failed))
"""


def test_every_module_imports_on_its_own_in_a_fresh_interpreter() -> None:
    names = sorted(modules())
    assert len(names) > 50 and "paperfeed.cli" in names and "paperfeed.web.app" in names
    done = subprocess.run(
        [sys.executable, "-c", _IMPORT_EACH],
        input="\n".join(names),
        cwd=PACKAGE.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    failed = json.loads(done.stdout.strip().splitlines()[-1])
    assert not failed, "\n".join(f"{name}:\n{trace}" for name, trace in failed.items())


def _web_name(module: str) -> str | None:
    prefix = "paperfeed.web"
    if module == prefix:
        return "__init__"
    return module.removeprefix(prefix + ".") if module.startswith(prefix + ".") else None


def web_rule_breaches(graph: dict[str, frozenset[str]]) -> list[str]:
    """Imports that break the web rule, as 'importer -> imported'."""
    breaches = []
    for module, imported in sorted(graph.items()):
        importer = _web_name(module)
        if importer is None or importer in ASSEMBLERS:
            continue
        for target in sorted(imported):
            name = _web_name(target)
            if name is not None and name not in KIT:  # a feature module
                breaches.append(f"web/{importer}.py -> web/{name}.py")
    return breaches


def test_the_web_rule_names_what_breaks_it() -> None:
    graph = {
        "paperfeed.web.app": frozenset({"paperfeed.web.pages", "paperfeed.web.kit"}),
        "paperfeed.web.routes": frozenset({"paperfeed.web.orgs"}),
        "paperfeed.web.orgs": frozenset({"paperfeed.web.community", "paperfeed.web.kit", "paperfeed.feed"}),
        "paperfeed.web.kit": frozenset({"paperfeed.web.pages"}),
        "paperfeed.web.pages": frozenset({"paperfeed.web.params", "paperfeed.storage"}),
    }
    assert web_rule_breaches(graph) == ["web/kit.py -> web/pages.py", "web/orgs.py -> web/community.py"]


def test_web_feature_modules_never_import_each_other() -> None:
    breaches = web_rule_breaches(import_graph())
    assert not breaches, "web/ feature modules import each other or the kit imports one:\n" + "\n".join(
        breaches
    )
