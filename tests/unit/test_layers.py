"""The folders are the layers: what each package may import is checked here, by package, not by a list of names.

- `chalicelib/extraction/` is the core: no AWS SDK, no adapter, no use case, no wiring. The IAM analysis
  (`deploy/calls.py`) skips this package because of this rule, so breaking it would hide AWS calls from it.
- `chalicelib/aws/` holds the adapters: they speak to AWS for the use cases and never call back up into them.
- `chalicelib/api/` is the HTTP edge: it turns requests into calls and errors into responses, and needs no use case
  or adapter to do so (app.py joins the edge to the use cases).

Every import counts, including those inside functions (cold-start imports are still dependencies).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy import calls
from deploy.templates import REPO

LIB = REPO / "chalicelib"
SDK = ("boto3", "botocore")
# Plain vocabulary every layer may share: domain errors, plain data, the one frozen view of the environment;
# the adapters and the edge may also read the event contracts and the search vocabulary (how text is normalised
# for search, which sort orders exist).
KERNEL = ("chalicelib.errors", "chalicelib.models", "chalicelib.config")
ADAPTER_KERNEL = (*KERNEL, "chalicelib.contracts", "chalicelib.search")


def _module(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, root: Path) -> Iterator[str]:
    """Every module a file imports (absolute names; `from pkg import mod` yields `pkg.mod` too)."""
    module = _module(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _violations(package: str, allowed: tuple[str, ...], root: Path = REPO) -> dict[str, list[str]]:
    """Per file of `package`: the chalicelib (and AWS SDK) modules it imports outside `allowed`."""
    out: dict[str, list[str]] = {}
    for path in sorted(root.joinpath(*package.split(".")).rglob("*.py")):
        names = {n for n in _imports(path, root) if _within(n, ("chalicelib", *SDK)) and not _within(n, allowed)}
        if names:
            out[str(path.relative_to(root))] = sorted(names)
    return out


def test_the_core_package_is_the_one_the_iam_analysis_skips():
    assert calls.CORE == "chalicelib.extraction"
    assert REPO.joinpath(*calls.CORE.split("."), "__init__.py").is_file()


def test_nothing_under_the_core_imports_the_aws_sdk_an_adapter_a_use_case_or_the_wiring():
    assert _violations(calls.CORE, (calls.CORE, *KERNEL)) == {}


def test_the_adapters_import_no_use_case_no_http_edge_and_no_wiring():
    assert _violations("chalicelib.aws", ("chalicelib.aws", calls.CORE, *ADAPTER_KERNEL, *SDK)) == {}


def _reads_environment(path: Path) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return any(
        (isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb"))
        or (
            isinstance(node, ast.ImportFrom)
            and node.module == "os"
            and any(a.name in ("environ", "getenv") for a in node.names)
        )
        for node in ast.walk(tree)
    )


def test_only_the_settings_read_the_environment():
    files = [REPO / "app.py", *sorted(LIB.rglob("*.py"))]
    readers = [str(path.relative_to(REPO)) for path in files if _reads_environment(path)]
    assert readers == ["chalicelib/config.py"]


def test_the_http_edge_imports_no_use_case_no_adapter_and_no_wiring():
    assert _violations("chalicelib.api", ("chalicelib.api", *ADAPTER_KERNEL)) == {}


@pytest.mark.parametrize(
    "source, forbidden",
    [
        ("import boto3\n", "boto3"),
        ("def f():\n    from botocore.exceptions import ClientError\n", "botocore.exceptions"),
        ("from chalicelib.aws import storage\n", "chalicelib.aws.storage"),
        ("from ...aws.bus import EventBus\n", "chalicelib.aws.bus"),
        ("from chalicelib import wiring\n", "chalicelib.wiring"),
        ("from chalicelib.documents import Caller\n", "chalicelib.documents"),
    ],
)
def test_the_rule_sees_sdk_adapter_use_case_and_wiring_imports_anywhere_in_a_core_file(tmp_path, source, forbidden):
    extractors = tmp_path / "chalicelib" / "extraction" / "extractors"
    extractors.mkdir(parents=True)
    (extractors / "bad.py").write_text(source)
    found = _violations(calls.CORE, (calls.CORE, *KERNEL), root=tmp_path)
    assert forbidden in found["chalicelib/extraction/extractors/bad.py"]


def _function_level_imports(path: Path, root: Path = REPO) -> set[str]:
    """Modules imported inside functions (TYPE_CHECKING blocks aside), as absolute names."""
    found: set[str] = set()
    for fn in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(fn):
            if isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                modules = {f"{node.module}.{a.name}" for a in node.names}
                found |= {m for m in modules if _is_module(m, root)} or {node.module}
    return found


def _is_module(name: str, root: Path) -> bool:
    base = root.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _kept_imports() -> dict[str, set[str]]:
    """The list in chalicelib/wiring.py's docstring: file -> modules imported inside its functions."""
    doc = ast.get_docstring(ast.parse((LIB / "wiring.py").read_text(encoding="utf-8"))) or ""
    bullets = " ".join(doc.split()).split(" - ")[1:]
    kept: dict[str, set[str]] = {}
    for bullet in bullets:
        path, _, rest = bullet.partition(": ")
        names = rest.split(" — ")[0]
        kept[path] = {name.strip() for name in names.split(",")}
    return kept


def test_imports_inside_functions_are_the_ones_wiring_lists_for_cold_start():
    found = {
        str(path.relative_to(REPO)): _function_level_imports(path)
        for path in [REPO / "app.py", *sorted(LIB.rglob("*.py"))]
    }
    assert {path: modules for path, modules in found.items() if modules} == _kept_imports()
