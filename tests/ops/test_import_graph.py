"""No import circles among the project's modules (issue 14, item 3).

The graph is read from the source with :mod:`ast`, not by importing anything: a node per
module of the packages pyproject.toml installs (``bot``, ``handlers``, ``knowledge``,
``storage``), an edge per import statement between two of them. Which statements count:

* module-level imports, of course;
* imports inside functions too: they run when the function is called, so they are real
  dependencies. Moving an import into a function is the usual way to *hide* a circle from
  Python's loader, not to remove it (``bot.runtime.doctor`` ↔ ``bot.runtime.doctor_network`` was
  one);
* imports under ``if TYPE_CHECKING:`` too: they never run, but mypy, the IDE and the reader
  follow them, and a type-only circle is still two modules that cannot be understood one
  without the other (``handlers.slack.dm_channels`` ↔ ``handlers.slack.transport`` was one).
  When a module needs only the shape of another that imports it, it names that shape with a
  small Protocol of its own instead.

``from package import name`` is an edge to ``package.name`` when that is a module, else to the
package's ``__init__``; importing ``a.b.c`` is not counted as an edge to ``a`` and ``a.b``
(their ``__init__`` runs first and completely, before ``c`` starts, so it cannot close a
circle through ``c``). ``storage/migrations`` is not a package (Alembic loads it by path).
"""

from __future__ import annotations

import ast
import graphlib
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "handlers", "knowledge", "storage")


@dataclass(frozen=True, slots=True)
class Edge:
    source: str
    target: str
    where: str  # "path:line", to name in a failure


def project_modules(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    """Module name → file, for every module reachable as ``package.sub.module``."""
    modules: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            folders = [root.joinpath(*parts[:i]) for i in range(1, len(parts))]
            if not all((folder / "__init__.py").is_file() for folder in folders):
                continue  # not importable by name (e.g. storage/migrations)
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = path
    return modules


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement anywhere in the tree: in functions, classes, ``if``, ``try``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node


def import_edges(root: Path, modules: dict[str, Path]) -> list[Edge]:
    edges: list[Edge] = []
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        where = path.relative_to(root).as_posix()
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            for target in _targets(node, package, modules):
                if target != name:
                    edges.append(Edge(name, target, f"{where}:{node.lineno}"))
    return edges


def _targets(
    node: ast.Import | ast.ImportFrom, package: str, modules: dict[str, Path]
) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names if alias.name in modules)
        return
    base = node.module or ""
    if node.level:  # relative: "." is this package, ".." its parent, …
        anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
        base = ".".join([*anchor, *([node.module] if node.module else [])])
    for alias in node.names:
        submodule = f"{base}.{alias.name}"
        if submodule in modules:
            yield submodule
        elif base in modules:
            yield base


def cycles(edges: Iterable[Edge]) -> list[list[Edge]]:
    """Import circles, each as the edges that close it. After one is found, one of its edges
    is set aside and the search goes on, so every circle is named, not only the first."""
    remaining = {(e.source, e.target): e for e in edges}
    found: list[list[Edge]] = []
    while True:
        graph: dict[str, set[str]] = {}
        for source, target in remaining:
            graph.setdefault(source, set()).add(target)
        try:
            graphlib.TopologicalSorter(graph).prepare()
        except graphlib.CycleError as error:
            nodes: list[str] = error.args[1]  # [a, b, …, a]; each imports the one before it
            circle = [remaining[(later, earlier)] for earlier, later in itertools.pairwise(nodes)]
            found.append(circle[::-1])
            del remaining[(circle[0].source, circle[0].target)]
        else:
            return found


def describe(circle: list[Edge]) -> str:
    path = " -> ".join([circle[0].source, *(e.target for e in circle)])
    return path + "\n      " + "\n      ".join(f"{e.where} imports {e.target}" for e in circle)


# --- the project -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def project_edges() -> list[Edge]:
    return import_edges(ROOT, project_modules(ROOT, PACKAGES))


def test_no_import_circles_among_project_modules(project_edges: list[Edge]) -> None:
    found = cycles(project_edges)
    assert not found, (
        f"{len(found)} import circle(s); break each (move the shared part to a module both "
        "import, or name what one needs from the other with a Protocol):\n  "
        + "\n  ".join(describe(c) for c in found)
    )


def test_the_walk_sees_the_whole_project(project_edges: list[Edge]) -> None:
    """Guards the test above against passing because it read nothing: the graph holds the
    composition root's imports, a function-level one and a TYPE_CHECKING one."""
    pairs = {(e.source, e.target) for e in project_edges}
    assert len({e.source for e in project_edges}) > 100
    assert ("bot.runtime.bootstrap", "storage.uow") in pairs  # module level
    assert ("bot.runtime.bootstrap", "handlers.email.assembly") in pairs  # inside a method
    assert ("bot.runtime.bootstrap", "handlers.slack.flows") in pairs  # under TYPE_CHECKING


# --- the walker on packages made for it ---------------------------------------------------------


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_a_circle_through_a_function_and_type_checking_is_named(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "def f():\n    from pkg import b\n",
            "pkg/b.py": "import typing\nif typing.TYPE_CHECKING:\n    from . import c\n",
            "pkg/c.py": "import pkg.a\n",
            "pkg/d.py": "from pkg.a import f\nfrom pkg import e\n",
            "pkg/e.py": "from .d import f\n",
            "pkg/clean.py": "import pkg.a\nimport json\n",
            "pkg/migrations/env.py": "import pkg.clean\n",  # no __init__.py: not a module
        },
    )
    modules = project_modules(tmp_path, ["pkg"])
    assert "pkg.migrations.env" not in modules
    found = cycles(import_edges(tmp_path, modules))
    assert {frozenset((e.source, e.target) for e in c) for c in found} == {
        frozenset({("pkg.a", "pkg.b"), ("pkg.b", "pkg.c"), ("pkg.c", "pkg.a")}),
        frozenset({("pkg.d", "pkg.e"), ("pkg.e", "pkg.d")}),
    }
    for circle in found:  # each a chain that closes: a -> b -> c -> a
        assert all(e.target == f.source for e, f in itertools.pairwise([*circle, circle[0]]))
    text = "\n".join(describe(c) for c in found)
    assert "pkg/a.py:2 imports pkg.b" in text  # inside a function
    assert "pkg/b.py:3 imports pkg.c" in text  # under TYPE_CHECKING, relative


def test_a_package_init_that_imports_its_modules_is_no_circle(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg.a import f\n",
            "pkg/a.py": "from pkg.b import g\ndef f(): ...\n",
            "pkg/b.py": "def g(): ...\n",
        },
    )
    edges = import_edges(tmp_path, project_modules(tmp_path, ["pkg"]))
    assert {(e.source, e.target) for e in edges} == {("pkg", "pkg.a"), ("pkg.a", "pkg.b")}
    assert cycles(edges) == []
