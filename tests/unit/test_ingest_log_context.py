"""A document's id is on the log lines written while it is processed, and on none after."""

from __future__ import annotations

import io
import json
import logging
from types import SimpleNamespace

from chalicelib import observability
from chalicelib.config import Settings
from chalicelib.ingest import IngestService
from chalicelib.models import ObjectRef
from tests.fakes import InMemoryRepository, InMemoryStorage
from tests.support import samples

BUCKET = "docpipe-uploads"


def test_lines_after_a_document_carry_the_invocation_ids_but_not_that_documents_id() -> None:
    repo, storage = InMemoryRepository(), InMemoryStorage()
    service = IngestService(repo, storage, Settings.from_env({"DOCPIPE_BUCKET": BUCKET}))  # type: ignore[arg-type]
    storage.put(BUCKET, "uploads/a.pdf", samples.pdf(pages=1))
    out = io.StringIO()
    observability.setup_logging(stream=out, force_json=True)
    log = logging.getLogger("docpipe.ingest")
    try:
        with observability.invocation(SimpleNamespace(aws_request_id="req-7")):
            outcome = service.process(ObjectRef(BUCKET, "uploads/a.pdf"))
            log.info("next object of the batch")
        log.info("outside any invocation")
    finally:
        observability.setup_logging(force_json=False)
    lines = {entry["message"]: entry for entry in map(json.loads, out.getvalue().splitlines())}
    assert outcome.doc_id and repo.get(outcome.doc_id) is not None
    assert lines["next object of the batch"].get("request_id") == "req-7"
    assert "doc_id" not in lines["next object of the batch"]
    assert "doc_id" not in lines["outside any invocation"] and "request_id" not in lines["outside any invocation"]
