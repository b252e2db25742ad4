"""The extractor version moves whenever extraction may produce different output.

Documents record the version that produced them and a stale backfill re-extracts
those with an older one, so an extraction change that keeps the old number would
leave every existing document silently out of date. The digest covers the code
of `chalicelib/extraction` as Python sees it (its syntax tree without docstrings:
comments, docstrings and formatting do not count) and the library pins of
requirements.txt (a new pypdf or Pillow changes output too).
"""

from __future__ import annotations

import ast
import hashlib
import shutil
from pathlib import Path

import pytest

from chalicelib.extraction import version

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "chalicelib" / "extraction"
REQUIREMENTS = REPO / "requirements.txt"
VERSION_FILE = "version.py"


def _without_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            first = body[0].value if body and isinstance(body[0], ast.Expr) else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                node.body = body[1:] or [ast.Pass()]
    return tree


def sources_digest(package: Path = PACKAGE, requirements: Path = REQUIREMENTS) -> str:
    """sha256 over every module's docstring-free syntax tree (by relative path) and the pinned requirements."""
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package).as_posix()
        if relative == VERSION_FILE:
            continue
        tree = _without_docstrings(ast.parse(path.read_text(encoding="utf-8"), filename=relative))
        digest.update(f"{relative}\0{ast.dump(tree, include_attributes=False)}\0".encode())
    pins = [line.split("#", 1)[0].strip() for line in requirements.read_text(encoding="utf-8").splitlines()]
    digest.update("\n".join(sorted(p for p in pins if p)).encode())
    return digest.hexdigest()


def test_extraction_changes_come_with_an_extractor_version_bump() -> None:
    current = sources_digest()
    if current == version.SOURCES_DIGEST:
        return
    bumped = version.EXTRACTOR_VERSION + 1
    pytest.fail(
        "\n\nExtraction changed but the extractor version did not.\n"
        "The code under chalicelib/extraction/ or a library pin in requirements.txt differs from what\n"
        f"EXTRACTOR_VERSION = {version.EXTRACTOR_VERSION} was pinned to. Documents record the version that "
        "produced them,\nand a stale backfill re-extracts the ones recorded with an older version.\n\n"
        "Edit chalicelib/extraction/version.py:\n\n"
        f"    EXTRACTOR_VERSION: Final = {bumped}\n"
        f'    SOURCES_DIGEST: Final = "{current}"\n\n'
        "Bump once per landing: if main already moved past "
        f"{version.EXTRACTOR_VERSION} while you worked, merge it and use one more than main's\n"
        "version with the digest this test prints then. Comments, docstrings and formatting do not count.\n",
        pytrace=False,
    )


def test_the_pinned_version_is_a_positive_integer() -> None:
    assert isinstance(version.EXTRACTOR_VERSION, int)
    assert version.EXTRACTOR_VERSION >= 1


def _copy_package(tmp_path: Path) -> tuple[Path, Path]:
    package = tmp_path / "extraction"
    shutil.copytree(PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    requirements = tmp_path / "requirements.txt"
    shutil.copy(REQUIREMENTS, requirements)
    return package, requirements


def test_a_changed_extractor_changes_the_digest(tmp_path: Path) -> None:
    package, requirements = _copy_package(tmp_path)
    before = sources_digest(package, requirements)
    pdf = package / "extractors" / "pdf.py"
    pdf.write_text(pdf.read_text(encoding="utf-8") + "\nEXTRA_FIELD = 1\n", encoding="utf-8")
    assert sources_digest(package, requirements) != before


def test_a_new_module_changes_the_digest(tmp_path: Path) -> None:
    package, requirements = _copy_package(tmp_path)
    before = sources_digest(package, requirements)
    (package / "extractors" / "newformat.py").write_text("def extract(source):\n    return None\n", encoding="utf-8")
    assert sources_digest(package, requirements) != before


def test_a_library_upgrade_changes_the_digest(tmp_path: Path) -> None:
    package, requirements = _copy_package(tmp_path)
    before = sources_digest(package, requirements)
    text = requirements.read_text(encoding="utf-8")
    pinned = next(line for line in text.splitlines() if "==" in line and not line.startswith("#"))
    requirements.write_text(text.replace(pinned, pinned.split("==")[0] + "==0.0.1"), encoding="utf-8")
    assert sources_digest(package, requirements) != before


def test_comments_docstrings_and_formatting_do_not_change_the_digest(tmp_path: Path) -> None:
    package, requirements = _copy_package(tmp_path)
    before = sources_digest(package, requirements)
    extract = package / "extract.py"
    text = extract.read_text(encoding="utf-8")
    text = text.replace('"""The extraction engine', '"""Reworded: the extraction engine', 1)
    text = text.replace("HEAD_BYTES = 8192", "HEAD_BYTES  =  8192  # bytes read before detection")
    extract.write_text(text + "\n\n# a trailing comment\n", encoding="utf-8")
    (package / VERSION_FILE).write_text("EXTRACTOR_VERSION = 99\n", encoding="utf-8")
    assert sources_digest(package, requirements) == before
