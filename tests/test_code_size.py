"""The package stays readable: no module over 450 lines, no function over 60 lines."""

import ast
import pathlib

from tests.conftest import REPO_ROOT

MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 60
CHECKED = ("tf_kdbias", "scripts")


def sources():
    for folder in CHECKED:
        yield from sorted(pathlib.Path(REPO_ROOT, folder).rglob("*.py"))


def test_no_module_is_over_the_limit():
    long = {str(p.relative_to(REPO_ROOT)): n for p in sources()
            if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert not long, f"split these modules (lines): {long}"


def test_no_function_is_over_the_limit():
    long = {}
    for path in sources():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(REPO_ROOT)}:{node.lineno} {node.name}"] = lines
    assert not long, f"split these functions (lines): {long}"
