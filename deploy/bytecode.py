"""Precompiled bytecode for the deployment package.

Lambda unpacks the package into a read-only /var/task, so Python cannot
cache what it compiles: without .pyc files every cold start compiles every
module it imports (Pillow, pypdf, cryptography ...), several hundred
milliseconds for the extraction handlers (figures: docs/deploy.md, measured
by tests/deploy/test_artifact.py). The .pyc files are checked-hash
(PEP 552): Python compares the source's hash, not its timestamp, which the
zip does not keep exactly, and ignores a .pyc whose source changed, so a
stale one costs a compile and never runs old code. The magic number ties
them to Python 3.13, the runtime's version (the Makefile refuses another).
"""

from __future__ import annotations

import py_compile
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path

from deploy import lambda_image

CACHE_TAG = sys.implementation.cache_tag


def check_interpreter() -> None:
    if sys.version_info[:2] != lambda_image.PYTHON:
        wanted = ".".join(map(str, lambda_image.PYTHON))
        raise RuntimeError(f"bytecode for the {lambda_image.RUNTIME} runtime must be compiled by Python {wanted}")


def compile_tree(root: Path, skip: Iterable[str] = ()) -> int:
    """Compile every .py under root (except the top-level folders in `skip`); returns how many .pyc exist."""
    check_interpreter()
    skipped = tuple(f"{s}/" for s in skip)
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel.startswith(skipped):
            continue
        try:
            py_compile.compile(
                str(path),
                doraise=True,
                dfile=f"{lambda_image.TASK_ROOT}/{rel}",
                invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH,
                quiet=2,
            )
        except py_compile.PyCompileError:
            continue  # a file no Python 3.13 import can use (a template, a test fixture): left as source
    return sum(1 for _ in root.rglob(f"*.{CACHE_TAG}.pyc"))


def strip_tree(root: Path) -> None:
    """Remove every __pycache__ folder (before measuring or shipping without bytecode)."""
    for cache in sorted(root.rglob("__pycache__"), reverse=True):
        shutil.rmtree(cache, ignore_errors=True)


def add_to_zip(package: Path) -> int:
    """Rewrite a deployment zip with checked-hash bytecode beside every module; returns the .pyc count."""
    with tempfile.TemporaryDirectory(prefix="docpipe-bytecode-") as tmp:
        root = Path(tmp) / "package"
        with zipfile.ZipFile(package) as zf:
            zf.extractall(root)
            modes = {info.filename: info.external_attr for info in zf.infolist()}
        strip_tree(root)
        count = compile_tree(root)
        rebuilt = Path(tmp) / "deployment.zip"
        write_zip(root, rebuilt, modes)
        shutil.move(rebuilt, package)
    return count


def write_zip(root: Path, dest: Path, modes: dict[str, int] | None = None) -> None:
    """Zip a folder in a stable order, keeping the file modes the source zip had."""
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED) as out:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            rel = path.relative_to(root).as_posix()
            info = zipfile.ZipInfo(rel, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (modes or {}).get(rel) or (0o100644 << 16)
            out.writestr(info, path.read_bytes())


def copy_caches(package: Path, vendor: Path, skip: Iterable[str] = ()) -> int:
    """Copy the __pycache__ folders of a built package into vendor/ (for `chalice deploy`, which builds its
    own zip and copies vendor/ into it); returns the .pyc count."""
    count = 0
    skipped = tuple(f"{s}/" for s in skip)
    with zipfile.ZipFile(package) as zf:
        for info in zf.infolist():
            name = info.filename
            if "/__pycache__/" not in f"/{name}" or name.startswith(skipped):
                continue
            target = vendor / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(zf.read(info))
            count += 1
    return count
