"""docpipe's Chalice app: a routing table.

Each handler parses its input, calls one service from `chalicelib.wiring`, and
lets `chalicelib.api.http.api` map errors. Resource names come from the stage's
environment variables, which Lambda (and the local stack) set before import,
read through `Settings` like every other setting.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from chalice import Chalice, CognitoUserPoolAuthorizer, CORSConfig, Rate
from chalice.app import CloudWatchEvent, S3Event, SQSEvent

from chalicelib import contracts, wiring
from chalicelib.api.http import api, caller_from_context, json_body, json_response, normalize_error, query_dict
from chalicelib.api.openapi import document as openapi_document
from chalicelib.config import Settings
from chalicelib.deadline import deadline_from_context
from chalicelib.observability import setup_logging, traced
from chalicelib.paging import parse_limit

SETTINGS = Settings.from_env()  # read at import, as Chalice reads the decorators
app = Chalice(app_name="docpipe")
app.log.setLevel(logging.INFO)
logging.getLogger("docpipe").setLevel(logging.INFO)
if SETTINGS.log_json:  # on Lambda: one JSON object per line (request id, document id, extra fields)
    setup_logging()

BUCKET = SETTINGS.bucket
RECORDS_QUEUE = SETTINGS.records_queue
BACKFILL_QUEUE = SETTINGS.backfill_queue
BACKFILL_CONCURRENCY = 4  # the backfill consumer's own ceiling (SQS event source): live uploads keep the rest
USER_POOL_ARN = SETTINGS.user_pool_arn
app.api.cors = CORSConfig(
    allow_origin=SETTINGS.web_origin,
    allow_headers=["Authorization", "Content-Type"],
    max_age=600,
)

authorizer = CognitoUserPoolAuthorizer("docpipe-users", provider_arns=[USER_POOL_ARN])


@app.middleware("http")
def docpipe_errors(event: Any, get_response: Any) -> Any:
    return normalize_error(get_response(event))


def _caller() -> Any:
    request = app.current_request
    return caller_from_context(request.context if request else None, wiring.settings().admin_group)


def _params() -> dict[str, str]:
    return query_dict(app.current_request.query_params if app.current_request else None)


def _body() -> Any:
    return json_body(app.current_request.raw_body if app.current_request else None)


# -- public ------------------------------------------------------------------
@app.route("/health")
@api
def health() -> Any:
    return json_response({"status": "ok"})


@app.route("/config")
@api
def public_config() -> Any:
    return json_response(wiring.settings().public_config())


@app.route("/openapi.json")
@api
def openapi() -> Any:
    return json_response(openapi_document())


# -- documents ---------------------------------------------------------------
@app.route("/uploads", methods=["POST"], authorizer=authorizer)
@api
def create_upload() -> Any:
    return json_response(wiring.document_service().create_upload(_caller(), _body()), 201)


@app.route("/documents", authorizer=authorizer)
@api
def list_documents() -> Any:
    return json_response(wiring.document_service().list_mine(_caller(), _params()))


@app.route("/documents/{doc_id}", authorizer=authorizer)
@api
def get_document(doc_id: str) -> Any:
    return json_response(wiring.document_service().describe(_caller(), doc_id))


@app.route("/documents/{doc_id}", methods=["DELETE"], authorizer=authorizer)
@api
def delete_document(doc_id: str) -> Any:
    return json_response(wiring.document_service().delete(_caller(), doc_id), 202)


@app.route("/documents/{doc_id}/download", authorizer=authorizer)
@api
def download_document(doc_id: str) -> Any:
    return json_response(wiring.document_service().download(_caller(), doc_id))


@app.route("/documents/{doc_id}/preview", authorizer=authorizer)
@api
def preview_document(doc_id: str) -> Any:
    return json_response(wiring.document_service().preview(_caller(), doc_id))


@app.route("/documents/{doc_id}/text", authorizer=authorizer)
@api
def document_text(doc_id: str) -> Any:
    return json_response(wiring.document_service().text(_caller(), doc_id))


@app.route("/documents/{doc_id}/records", authorizer=authorizer)
@api
def document_records(doc_id: str) -> Any:
    caller, params = _caller(), _params()
    wiring.document_service().get(caller, doc_id)  # 404 unless the caller may see the document
    return json_response(
        wiring.records_reader().page(doc_id, caller.sub, parse_limit(params.get("limit")), params.get("next"))
    )


@app.route("/documents/{doc_id}/records/errors", authorizer=authorizer)
@api
def document_record_errors(doc_id: str) -> Any:
    caller, params = _caller(), _params()
    wiring.document_service().get(caller, doc_id)
    return json_response(
        wiring.records_reader().errors(doc_id, caller.sub, parse_limit(params.get("limit")), params.get("next"))
    )


@app.route("/documents/{doc_id}/reprocess", methods=["POST"], authorizer=authorizer)
@api
def reprocess_document(doc_id: str) -> Any:
    return json_response(wiring.document_service().request_reprocess(_caller(), doc_id), 202)


@app.route("/stats", authorizer=authorizer)
@api
def stats() -> Any:
    return json_response(wiring.document_service().stats(_caller()))


@app.route("/events", methods=["POST"], authorizer=authorizer)
@api
def publish_event() -> Any:
    from chalicelib import events

    return json_response(events.publish(wiring.bus(), _caller(), _body()), 202)


@app.route("/events", authorizer=authorizer)
@api
def list_events() -> Any:
    from chalicelib.events import list_for

    return json_response(list_for(wiring.event_store(), _caller(), _params(), wiring.cursor_settings()))


@app.route("/admin/documents", authorizer=authorizer)
@api
def list_all_documents() -> Any:
    return json_response(wiring.document_service().list_all(_caller(), _params()))


# -- backfills (admins) ---------------------------------------------------------
@app.route("/admin/backfills", methods=["POST"], authorizer=authorizer)
@api
def start_backfill() -> Any:
    return json_response(wiring.backfill_service().start(_caller(), _body()), 202)


@app.route("/admin/backfills", authorizer=authorizer)
@api
def list_backfills() -> Any:
    return json_response(wiring.backfill_service().list(_caller(), _params()))


@app.route("/admin/backfills/{run_id}", authorizer=authorizer)
@api
def get_backfill(run_id: str) -> Any:
    return json_response(wiring.backfill_service().get(_caller(), run_id))


@app.route("/admin/backfills/{run_id}", methods=["DELETE"], authorizer=authorizer)
@api
def stop_backfill(run_id: str) -> Any:
    return json_response(wiring.backfill_service().stop(_caller(), run_id))


# -- events --------------------------------------------------------------------
def _ingest(objects: list[Any], context: Any) -> dict[str, Any]:
    service, deadline = wiring.ingest_service(), deadline_from_context(context)
    return {"outcomes": [service.process(obj, deadline=deadline).__dict__ for obj in objects]}


if SETTINGS.upload_events == "eventbridge":
    # one CloudFormation stack: the bucket sends Object Created to EventBridge (chalice package supports this)
    @app.on_cw_event(
        {
            "source": [contracts.S3_SOURCE],
            "detail-type": [contracts.OBJECT_CREATED],
            "detail": {"bucket": {"name": [BUCKET]}, "object": {"key": [{"prefix": "uploads/"}]}},
        }
    )
    @traced
    def on_upload(event: CloudWatchEvent) -> dict[str, Any]:
        from chalicelib.ingest import objects_from_eventbridge

        return _ingest(objects_from_eventbridge(event.to_dict()), event.context)

else:

    @app.on_s3_event(bucket=BUCKET, prefix="uploads/", events=["s3:ObjectCreated:*"])
    @traced
    def on_upload(event: S3Event) -> dict[str, Any]:
        from chalicelib.ingest import objects_from_s3_event

        return _ingest(objects_from_s3_event(event.to_dict()), event.context)


# At most 5 concurrent batches (the mapping's ScalingConfig, set on both deploy paths) so a large CSV cannot
# take the table's or the account's whole concurrency.
@app.on_sqs_message(queue=RECORDS_QUEUE, batch_size=10, maximum_concurrency=5)
@traced
def on_records(event: SQSEvent) -> dict[str, Any]:
    from chalicelib.records import handle_batch

    records = event.to_dict().get("Records", [])
    response = handle_batch(wiring.records_consumer(), records, deadline_from_context(event.context))
    return wiring.records_response(records, response)


@app.on_cw_event({"source": [contracts.PRODUCER_SOURCE]})
@traced
def on_producer_event(event: CloudWatchEvent) -> dict[str, Any]:
    from chalicelib.events import handle

    return {"state": handle(wiring.event_store(), event.to_dict())}


@app.on_cw_event({"source": [contracts.API_SOURCE], "detail-type": [contracts.REPROCESS_REQUESTED]})
@traced
def on_reprocess(event: CloudWatchEvent) -> dict[str, Any]:
    detail = event.detail if isinstance(event.detail, dict) else {}
    doc_id, version = str(detail.get("doc_id", "")), detail.get("version")
    return wiring.ingest_service().reprocess(doc_id, version, deadline_from_context(event.context)).__dict__


@app.on_sqs_message(queue=BACKFILL_QUEUE, batch_size=1, maximum_concurrency=BACKFILL_CONCURRENCY)
@traced
def on_backfill(event: SQSEvent) -> dict[str, Any]:
    """Planning legs and batches of a backfill; a failure raises, so SQS hands the message over again."""
    deadline = deadline_from_context(event.context)
    return {
        "results": [
            wiring.backfill_worker().handle(json.loads(r["body"]), deadline) for r in event.to_dict()["Records"]
        ]
    }


@app.schedule(Rate(5, unit=Rate.MINUTES))
@traced
def sweep(event: CloudWatchEvent) -> dict[str, int]:
    return wiring.sweeper().sweep(int(time.time()))
