"""docpipe's Chalice app: a routing table.

Each handler parses its input, calls one service from `chalicelib.wiring`, and
lets `chalicelib.http.api` map errors. Resource names come from the stage's
environment variables, which Lambda (and the local stack) set before import.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from chalice import Chalice, CognitoUserPoolAuthorizer
from chalice.app import CloudWatchEvent, S3Event, SQSEvent

from chalicelib import wiring
from chalicelib.documents import parse_limit
from chalicelib.http import api, caller_from_context, json_response

app = Chalice(app_name="docpipe")
app.log.setLevel(logging.INFO)
logging.getLogger("docpipe").setLevel(logging.INFO)

BUCKET = os.environ.get("DOCPIPE_BUCKET", "docpipe-uploads")
RECORDS_QUEUE = os.environ.get("DOCPIPE_RECORDS_QUEUE", "docpipe-records")
USER_POOL_ARN = os.environ.get(
    "DOCPIPE_USER_POOL_ARN", "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_unset"
)

authorizer = CognitoUserPoolAuthorizer("docpipe-users", provider_arns=[USER_POOL_ARN])


def _caller() -> Any:
    request = app.current_request
    return caller_from_context(request.context if request else None, wiring.settings().admin_group)


def _query(name: str) -> str | None:
    params = app.current_request.query_params if app.current_request else None
    value = params.get(name) if params else None
    return str(value) if value is not None else None


@app.route("/health")
@api
def health() -> Any:
    return json_response({"status": "ok"})


@app.route("/config")
@api
def public_config() -> Any:
    return json_response(wiring.settings().public_config())


@app.route("/documents", authorizer=authorizer)
@api
def list_documents() -> Any:
    page = wiring.document_service().list_mine(_caller(), parse_limit(_query("limit")), _query("next"))
    return json_response(page)


@app.route("/documents/{doc_id}", authorizer=authorizer)
@api
def get_document(doc_id: str) -> Any:
    return json_response(wiring.document_service().get(_caller(), doc_id).to_public())


@app.route("/admin/documents", authorizer=authorizer)
@api
def list_all_documents() -> Any:
    page = wiring.document_service().list_all(_caller(), parse_limit(_query("limit")), _query("next"))
    return json_response(page)


@app.on_s3_event(bucket=BUCKET, prefix="uploads/", events=["s3:ObjectCreated:*"])
def on_upload(event: S3Event) -> dict[str, Any]:
    from chalicelib.ingest import objects_from_s3_event

    service = wiring.ingest_service()
    outcomes = [service.process(obj) for obj in objects_from_s3_event(event.to_dict())]
    return {"outcomes": [o.__dict__ for o in outcomes]}


@app.on_sqs_message(queue=RECORDS_QUEUE, batch_size=10)
def on_records(event: SQSEvent) -> dict[str, Any]:
    from chalicelib.records import handle_batch

    return handle_batch(wiring.record_writer(), event.to_dict().get("Records", []))


@app.on_cw_event({"source": ["docpipe.producer"]})
def on_producer_event(event: CloudWatchEvent) -> dict[str, Any]:
    from chalicelib.events import handle

    return {"stored": handle(wiring.event_store(), event.to_dict())}
