"""The local pump follows Lambda's SQS event source rules."""

from __future__ import annotations

from local.pump import _s3_event, failed_ids, sqs_record

IDS = {"a", "b", "c"}


def test_a_plain_return_deletes_the_whole_batch() -> None:
    assert failed_ids(None, IDS) == set()
    assert failed_ids({"ok": True}, IDS) == set()


def test_named_failures_are_kept_and_the_rest_deleted() -> None:
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": "b"}]}, IDS) == {"b"}


def test_an_empty_failure_list_means_full_success() -> None:
    assert failed_ids({"batchItemFailures": []}, IDS) == set()


def test_a_failure_naming_an_unknown_message_fails_the_whole_batch() -> None:
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, IDS) == IDS
    assert failed_ids({"batchItemFailures": [{"nope": 1}]}, IDS) == IDS


def test_sqs_messages_are_shaped_like_lambda_records() -> None:
    msg = {
        "MessageId": "m1",
        "ReceiptHandle": "r1",
        "Body": "{}",
        "MD5OfBody": "x",
        "Attributes": {"ApproximateReceiveCount": "2"},
    }
    record = sqs_record(msg, "arn:aws:sqs:us-east-1:123456789012:q", "us-east-1")
    assert record["messageId"] == "m1" and record["eventSource"] == "aws:sqs"
    assert record["attributes"]["ApproximateReceiveCount"] == "2"


def test_s3_test_events_are_dropped_and_records_keep_their_encoded_keys() -> None:
    assert _s3_event('{"Service": "Amazon S3", "Event": "s3:TestEvent"}') is None
    event = _s3_event('{"Records": [{"s3": {"bucket": {"name": "b"}, "object": {"key": "uploads/a+b.pdf"}}}]}')
    assert event is not None and event["Records"][0]["s3"]["object"]["key"] == "uploads/a+b.pdf"


def test_eventbridge_events_get_the_envelope_and_key_encoding_aws_sends() -> None:
    import json

    from local.pump import _eventbridge_event

    body = {
        "source": "aws.s3",
        "detail-type": "Object Created",
        "detail": {"bucket": {"name": "b"}, "object": {"key": "uploads/a b+c%.pdf"}},
    }
    event = _eventbridge_event(json.dumps(body))
    assert event["account"] and event["resources"] == []
    assert event["detail"]["object"]["key"] == "uploads/a+b%2Bc%25.pdf"


def test_schedules_fire_on_their_rate_unless_overridden() -> None:
    from chalice import Rate

    from local.pump import schedule_seconds, scheduled_event

    assert schedule_seconds(Rate(5, unit=Rate.MINUTES), env={}) == 300
    assert schedule_seconds(Rate(2, unit=Rate.HOURS), env={}) == 7200
    assert schedule_seconds(Rate(5, unit=Rate.MINUTES), env={"DOCPIPE_LOCAL_SCHEDULE_SECONDS": "0.5"}) == 0.5
    event = scheduled_event("us-east-1", "sweep")
    assert (event["detail-type"], event["source"]) == ("Scheduled Event", "aws.events")
