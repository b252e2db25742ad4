"""Event sources and detail-types are spelled once, in chalicelib/contracts.py, and the app's rules use them."""

from __future__ import annotations

import ast
from pathlib import Path

from chalicelib import contracts
from deploy import calls
from deploy.templates import REPO

SPELLINGS = {
    contracts.PRODUCER_SOURCE,
    contracts.API_SOURCE,
    contracts.REPROCESS_REQUESTED,
    contracts.DOCUMENT_PROCESSED,
    contracts.DOCUMENT_FAILED,
    contracts.RECORDS_INGESTED,
    contracts.OBJECT_CREATED,
}


def _string_literals(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    }


def test_no_module_but_the_contracts_spells_a_source_or_detail_type():
    files = [REPO / "app.py", *sorted((REPO / "chalicelib").rglob("*.py")), *sorted((REPO / "deploy").rglob("*.py"))]
    spelled = {
        str(path.relative_to(REPO)): sorted(SPELLINGS & _string_literals(path))
        for path in files
        if path != REPO / "chalicelib" / "contracts.py"
    }
    assert {path: names for path, names in spelled.items() if names} == {}


def test_the_apps_rules_listen_for_the_contracts_sources_and_detail_types():
    patterns = calls.event_patterns(REPO / "app.py")
    assert patterns["on_producer_event"] == {"source": [contracts.PRODUCER_SOURCE]}
    assert patterns["on_reprocess"] == {
        "source": [contracts.API_SOURCE],
        "detail-type": [contracts.REPROCESS_REQUESTED],
    }


def test_a_pattern_naming_a_constant_the_contracts_lack_reads_as_empty(tmp_path):
    (tmp_path / "chalicelib").mkdir()
    (tmp_path / "chalicelib" / "contracts.py").write_text('KNOWN = "x.known"\n')
    (tmp_path / "app.py").write_text(
        "@app.on_cw_event({'source': [contracts.KNOWN]})\ndef known(event): ...\n\n"
        "@app.on_cw_event({'source': [contracts.UNKNOWN]})\ndef unknown(event): ...\n"
    )
    assert calls.event_patterns(tmp_path / "app.py") == {"known": {"source": ["x.known"]}, "unknown": {}}
