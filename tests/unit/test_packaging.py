"""What is installed is what the code imports: the CLI's package and the Lambda package declare their needs."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from deploy.templates import REPO

# Lambda's Python runtime provides these; requirements.txt must not ship them.
RUNTIME_PROVIDED = {"boto3", "botocore"}


def _third_party_imports(package: Path) -> set[str]:
    """Top-level modules imported anywhere in a package that are neither the standard library nor the package."""
    names: set[str] = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in (package.name, "__future__")}


def _distributions(modules: set[str]) -> set[str]:
    found = packages_distributions()
    return {found[module][0].lower().replace("_", "-") for module in modules}


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _requirements(path: Path) -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("-")]


def test_the_cli_declares_every_package_it_imports() -> None:
    declared = {_name(spec) for spec in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]}
    assert _distributions(_third_party_imports(REPO / "docpipe_cli")) <= declared


def test_the_lambda_package_lists_exactly_what_the_app_imports_pinned() -> None:
    lines = _requirements(REPO / "requirements.txt")
    assert all("==" in line for line in lines), "every Lambda dependency is pinned"
    imported = _distributions(_third_party_imports(REPO / "chalicelib")) - RUNTIME_PROVIDED - {"chalice"}
    assert {_name(line) for line in lines} == imported


def test_pdf_encryption_comes_with_pypdf_rather_than_a_separate_pin() -> None:
    lines = _requirements(REPO / "requirements.txt")
    assert any(line.startswith("pypdf[crypto]==") for line in lines)
    assert not any(_name(line) == "cryptography" for line in lines)
