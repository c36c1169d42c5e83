"""The dependencies declared in pyproject.toml are the ones the code imports.

Every module's imports are read with ``ast`` (``pytest.importorskip("x")`` counts as an
import of x) and mapped to the distribution that provides them with
``importlib.metadata.packages_distributions()``. Product code (registry, importers,
reports, the migrations, wsgi.py, config.py) may import only runtime dependencies; the
tests runtime and test ones; the benchmarks any. And the other way round: a declared
dependency that nothing imports is either listed below with the reason it is still needed,
or it is dead weight to remove.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from functools import cache
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PRODUCT = ("registry", "importers", "reports", "migrations", "wsgi.py", "config.py")
TESTS = ("tests",)
DEV = ("bench",)

# Declared, needed, and never imported by name.
USED_WITHOUT_IMPORT = {
    "runtime": {
        "psycopg": "SQLAlchemy's PostgreSQL driver, loaded from a postgresql+psycopg:// URL",
        "redis": "the rate-limit counters' client, loaded by limits from RATELIMIT_STORAGE_URI=redis://...",
        "gunicorn": "the production server, run as a command (gunicorn wsgi:app)",
    },
    "test": {"odfpy": 'pandas\' ODS writer (to_excel(engine="odf")) in tests/importers/test_sheets.py'},
    "dev": {"ruff": "the linter and formatter (make lint)", "pip-tools": "pip-compile writes the lock files"},
}


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(spec: str) -> str:
    return normalise(re.split(r"[\s<>=!~;\[(@]", spec.strip(), maxsplit=1)[0])


def declared() -> dict[str, set[str]]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project.get("optional-dependencies", {})
    return {
        "runtime": {requirement_name(s) for s in project["dependencies"]},
        "test": {requirement_name(s) for s in extras.get("test", [])},
        "dev": {requirement_name(s) for s in extras.get("dev", [])},
    }


def python_files(roots: tuple[str, ...]) -> list[Path]:
    files: list[Path] = []
    for root in roots:
        path = REPO / root
        files.extend([path] if path.is_file() else sorted(path.rglob("*.py")))
    return [f for f in files if ".venv" not in f.parts]


def imported_names(path: Path) -> set[str]:
    """Top-level names of the absolute imports of a module, wherever they stand in it."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "importorskip"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            names.add(str(node.args[0].value).split(".")[0])
    return names


def local_names() -> set[str]:
    """The repository's own modules: top-level packages and files, and the benchmarks'
    helpers they import from beside them."""
    names = {p.name for p in REPO.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    names |= {p.stem for p in REPO.glob("*.py")}
    names |= {p.stem for p in (REPO / "bench").glob("*.py")}
    return names | {"migrations"}


@cache
def third_party(roots: tuple[str, ...]) -> dict[str, tuple[set[str], set[str]]]:
    """Import name -> (the distributions that provide it, the files that import it)."""
    skip = set(sys.stdlib_module_names) | {"__future__"} | local_names()
    providers = packages_distributions()
    found: dict[str, tuple[set[str], set[str]]] = {}
    for path in python_files(roots):
        for name in imported_names(path) - skip:
            dists = providers.get(name)
            assert dists, f"{path.relative_to(REPO)} imports {name!r}, which no installed distribution provides"
            entry = found.setdefault(name, ({normalise(d) for d in dists}, set()))
            entry[1].add(str(path.relative_to(REPO)))
    return found


def undeclared(found: dict[str, tuple[set[str], set[str]]], allowed: set[str]) -> dict[str, list[str]]:
    """Imports no allowed distribution provides, with the files that make them."""
    return {name: sorted(files) for name, (dists, files) in found.items() if not dists & allowed}


def used(found: dict[str, tuple[set[str], set[str]]]) -> set[str]:
    return {dist for dists, _ in found.values() for dist in dists}


@pytest.fixture(scope="module")
def deps() -> dict[str, set[str]]:
    return declared()


def test_product_code_imports_only_runtime_dependencies(deps):
    assert undeclared(third_party(PRODUCT), deps["runtime"]) == {}


def test_tests_import_only_runtime_and_test_dependencies(deps):
    assert undeclared(third_party(TESTS), deps["runtime"] | deps["test"]) == {}


def test_benchmarks_import_only_declared_dependencies(deps):
    assert undeclared(third_party(DEV), deps["runtime"] | deps["test"] | deps["dev"]) == {}


@pytest.mark.parametrize("group", ["runtime", "test", "dev"])
def test_every_declared_dependency_is_used(deps, group):
    uses = {
        "runtime": third_party(PRODUCT),
        "test": third_party(TESTS),
        "dev": third_party(DEV),
    }[group]
    unused = deps[group] - used(uses) - set(USED_WITHOUT_IMPORT[group])
    assert unused == set(), f"declared as {group} dependencies but never imported: {sorted(unused)}"


def test_the_test_extra_holds_only_what_product_code_does_not_import(deps):
    """openpyxl, odfpy, pycountry and the like stay out of the runtime install."""
    runtime_uses = used(third_party(PRODUCT))
    assert deps["test"] & runtime_uses == set()
    assert deps["runtime"] & deps["test"] == set()


def test_the_reader_finds_imports_inside_functions_and_importorskip(tmp_path):
    module = tmp_path / "m.py"
    module.write_text(
        "import os.path\nfrom . import sibling\n\ndef f():\n    import lxml.etree\n"
        "    from flask import Flask\n    xlwt = pytest.importorskip('xlwt')\n",
        encoding="utf-8",
    )
    assert imported_names(module) == {"os", "lxml", "flask", "xlwt"}
    assert requirement_name("psycopg[binary]>=3.1") == "psycopg"
    assert requirement_name("Flask_SQLAlchemy >= 3.1") == "flask-sqlalchemy"


def locked(name: str) -> tuple[dict[str, str], set[str]]:
    """The pins of a lock file, and the packages it pins because pyproject.toml asks for them."""
    pins: dict[str, str] = {}
    direct: set[str] = set()
    current = None
    for line in (REPO / "requirements" / name).read_text(encoding="utf-8").splitlines():
        pin = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", line)
        if pin:
            current = normalise(pin.group(1))
            pins[current] = pin.group(2)
        elif current and "(pyproject.toml)" in line:
            direct.add(current)
    return pins, direct


@pytest.mark.parametrize(
    "lock,groups",
    [("runtime.txt", ["runtime"]), ("test.txt", ["runtime", "test"]), ("dev.txt", ["runtime", "test", "dev"])],
)
def test_the_lock_files_were_made_from_the_declared_dependencies(deps, lock, groups):
    """A dependency added to or removed from pyproject.toml without `make lock` fails here."""
    _, direct = locked(lock)
    assert direct == set().union(*(deps[g] for g in groups)), "run `make lock` and commit requirements/"


def test_the_lock_files_agree_on_every_version():
    runtime, _ = locked("runtime.txt")
    test, _ = locked("test.txt")
    dev, _ = locked("dev.txt")
    assert {name: test[name] for name in runtime} == runtime
    assert {name: dev[name] for name in test} == test


def test_the_app_starts_without_pandas():
    """pandas (and numpy under it) serve the CRS reader alone: some 56 MB a process. A web worker
    or a command that reads no CRS file does not load them; the CRS import loads them when it runs."""
    import subprocess

    code = (
        "import sys\n"
        "from registry.app import create_app\n"
        "create_app({'SQLALCHEMY_DATABASE_URI': 'sqlite://', 'SECRET_KEY': 'x', 'TESTING': True})\n"
        "print(sorted(m for m in ('pandas', 'numpy') if m in sys.modules))\n"
    )
    found = (
        subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True, timeout=120)
        .stdout.strip()
        .splitlines()[-1]
    )
    assert found == "[]", found
