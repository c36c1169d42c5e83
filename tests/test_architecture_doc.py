"""docs/architecture.md names files and functions; every one of them must exist in the code.

The walks (the "## Walk" sections) follow an amount through the code, naming each file in
backticks (``importers/sheets/reader.py``) and each function, class or method in backticks
(``read_sheet_file``, ``SheetReader.read_sheet``, ``reader.read_sheet_file``). A name is looked
up in the files named in the same list item or paragraph, and must be DEFINED there (a def, a
class, or an assignment at module level; a method in the class's own body), not merely
imported: the page must point at the place that holds the code. A file named anywhere in the
page under one of the project's top-level folders must exist. So a rename, a move or a typo
that leaves the page behind fails here instead of misleading the next reader.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "architecture.md"
TOP_FOLDERS = ("registry", "importers", "reports", "migrations", "tests", "bench", "docs", "requirements")

CODE = re.compile(r"`([^`\n]+)`")
PATH = re.compile(r"^[\w.*-]+(/[\w.*-]+)*/?$")
NAME = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*(\(\))?$")
ITEM = re.compile(r"^\s*(\d+\.|-)\s")


@cache
def definitions(path: Path) -> dict[str, set[str]]:
    """What a module defines: its top-level names (key "") and each class's own members."""
    tree = ast.parse(path.read_text("utf-8"))
    found: dict[str, set[str]] = {"": set()}

    def names_of(body: list[ast.stmt]) -> set[str]:
        names: set[str] = set()
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Assign):
                names.update(t.id for t in node.targets if isinstance(t, ast.Name))
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names.add(node.target.id)
        return names

    found[""] = names_of(tree.body)
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            found[node.name] = names_of(node.body)
    return found


def is_path(token: str) -> bool:
    return "/" in token and PATH.match(token) is not None and token.split("/")[0] in TOP_FOLDERS


def path_exists(token: str) -> bool:
    return any(ROOT.glob(token.rstrip("/"))) if "*" in token else (ROOT / token).exists()


def defined_in(name: str, modules: list[str]) -> bool:
    """Whether ``name`` (``f``, ``Class.method`` or ``module.f``) is defined in one of ``modules``."""
    parts = name.removesuffix("()").split(".")
    for module in modules:
        defs = definitions(ROOT / module)
        head = parts
        if len(parts) > 1 and parts[0] == Path(module).stem and parts[0] not in defs[""]:
            head = parts[1:]  # reader.read_sheet_file: the module's own name first
        if len(head) == 1 and head[0] in defs[""]:
            return True
        if len(head) == 2 and head[0] in defs and head[1] in defs[head[0]]:
            return True
    return False


def units(text: str) -> list[str]:
    """The list items and paragraphs of the walk sections, fenced code left out."""
    out: list[str] = []
    in_walk = in_fence = False
    current: list[str] = []

    def close() -> None:
        if current:
            out.append(" ".join(current))
            current.clear()

    for line in text.splitlines():
        if line.startswith("```"):
            in_fence = not in_fence
            close()
            continue
        if in_fence:
            continue
        if line.startswith("## "):
            close()
            in_walk = line.startswith("## Walk")
            continue
        if not in_walk or line.startswith("#") or not line.strip():
            close()
            continue
        if ITEM.match(line):
            close()
        current.append(line.strip())
    close()
    return out


def problems(text: str) -> tuple[list[str], int]:
    """Every name or file of the page that the code does not hold; and how many were checked."""
    found: list[str] = []
    checked = 0
    outside_fences = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    for token in sorted(set(CODE.findall(outside_fences))):
        if is_path(token):
            checked += 1
            if not path_exists(token):
                found.append(f"no such file: {token}")
    for unit in units(text):
        tokens = CODE.findall(unit)
        modules = [t for t in tokens if is_path(t) and t.endswith(".py") and (ROOT / t).is_file()]
        for name in (t for t in tokens if not is_path(t) and NAME.match(t)):
            checked += 1
            if not modules:
                found.append(f"{name}: no module named beside it in: {unit[:80]}...")
            elif not defined_in(name, modules):
                found.append(f"{name} is defined in none of {', '.join(modules)}")
    return found, checked


def test_every_file_and_function_the_architecture_page_names_exists():
    found, checked = problems(DOC.read_text("utf-8"))
    assert found == []
    # the walks name well over a hundred files and functions: a broken extraction checks none
    assert checked > 150


def test_a_misspelt_function_a_wrong_module_or_a_missing_file_is_caught():
    text = DOC.read_text("utf-8")
    assert problems(text)[0] == []
    step = next(u for u in units(text) if "`open_sheets`" in u)  # the step that opens the file
    files = ", ".join(t for t in CODE.findall(step) if t.endswith(".py"))
    assert "importers/sheets/files.py" in files
    misspelt = text.replace("`open_sheets`", "`open_sheet`")
    assert problems(misspelt)[0] == [f"open_sheet is defined in none of {files}"]
    # a real function, but not where the page says it is
    moved = text.replace("`open_sheets`", "`parse_amount`")
    assert problems(moved)[0] == [f"parse_amount is defined in none of {files}"]
    method = text.replace("`SheetAmounts.settle`", "`SheetAmounts.setle`")
    assert [p.split(" is defined")[0] for p in problems(method)[0]] == ["SheetAmounts.setle"]
    gone = text.replace("`importers/sheets/files.py`", "`importers/sheets/file.py`")
    found = problems(gone)[0]
    assert "no such file: importers/sheets/file.py" in found
    assert any(p.startswith("open_sheets") for p in found)  # no longer found where the page says


def test_a_name_is_only_found_where_it_is_defined_not_where_it_is_imported():
    # importers/pipeline/batches.py imports store_file from readers.py; it does not define it
    assert "store_file" in (ROOT / "importers/pipeline/batches.py").read_text("utf-8")
    assert not defined_in("store_file", ["importers/pipeline/batches.py"])
    assert defined_in("store_file", ["importers/pipeline/readers.py"])
    assert defined_in("readers.store_file", ["importers/pipeline/readers.py"])
    assert defined_in("_Resolver.tx_row", ["importers/pipeline/resolve.py"])
    assert not defined_in("_Resolver.execute", ["importers/pipeline/resolve.py"])


def imported_packages(path: Path) -> set[str]:
    """The top-level packages a module imports (anywhere in it, functions included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_dependencies_point_one_way_as_the_page_says():
    # "registry/ never imports them, and they never import each other. The one exception is registry/app.py"
    text = " ".join(DOC.read_text("utf-8").split())
    assert "they never import each other. The one exception is `registry/app.py`" in text
    wrong = []
    for package, forbidden in (
        ("registry", {"importers", "reports"}),
        ("importers", {"reports"}),
        ("reports", {"importers"}),
    ):
        for path in sorted((ROOT / package).rglob("*.py")):
            module = path.relative_to(ROOT).as_posix()
            if module != "registry/app.py" and imported_packages(path) & forbidden:
                wrong.append(f"{module} imports {', '.join(sorted(imported_packages(path) & forbidden))}")
    assert wrong == []
    assert imported_packages(ROOT / "registry/app.py") >= {"importers", "reports"}
