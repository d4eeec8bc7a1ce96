"""What Loki's answers mean, message by message (the answers as Loki 3.4 wrote them are in
tests/test_delivery.py and tests/test_loki_sink.py; these are the parser's corners)."""

from __future__ import annotations

import pytest

from otel_replay.sinks.delivery import Delivered, Partial, Permanent, Retryable
from otel_replay.sinks.loki_answers import (
    OLD_ENTRIES_HINT,
    REASONS,
    classify,
    label_string,
    parse_rejections,
    refuses_whole_push,
)

STREAM = '{service_name="svc"}'


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("entry too far behind, entry timestamp is: …", "too_far_behind"),
        ("entry out of order for stream", "too_far_behind"),
        ("entry for stream '{a=\"b\"}' has timestamp too old: 2026-11-14T19:33:50Z", "too_old"),
        ("entry for stream '{a=\"b\"}' has timestamp too new: 2026-11-24T19:33:50Z", "too_new"),
        ("Max entry size '262144' bytes exceeded for stream", "line_too_long"),
        ("LINE TOO LONG", "line_too_long"),
        ("stream '{a=\"b\"}' has structured metadata too large: '70001' bytes", "metadata_too_large"),
        ("stream '{a=\"b\"}' has too many structured metadata labels: '129'", "metadata_entries"),
        ("Per stream rate limit exceeded (limit: 3MB/sec)", "rate_limited"),
        ("couldn't parse labels: 1:3: parse error", "labels"),
        ("error parsing labels", "labels"),
        ("stream '{a=\"b\"}' has label name too long: 'nnn'", "labels"),
        ("stream '{a=\"b\"}' has label value too long: 'vvv'", "labels"),
    ],
)
def test_each_refusal_is_counted_under_its_kind(message: str, kind: str) -> None:
    assert parse_rejections(message) == {kind: 1}
    assert kind in REASONS


def test_an_unknown_refusal_is_its_own_reason_without_its_stream() -> None:
    body = f"stream '{STREAM}' has a shiny problem: " + "x" * 300
    (reason,) = parse_rejections(body)
    assert reason.startswith("refused by Loki: stream '{…}' has a shiny problem: xxx")
    assert len(reason) == len("refused by Loki: ") + 160 and reason.endswith("…")


def test_messages_are_counted_by_their_group_counts_one_without() -> None:
    body = (
        "3 errors like: entry for stream 'x' has timestamp too old: a; 2 errors like: Max entry size '9' bytes "
        "exceeded; 10 errors like: entry for stream 'x' has timestamp too new: b\n"
        "\n"
        "   \n"
        "entry for stream 'x' has timestamp too old: c\n"
    )
    assert parse_rejections(body) == {"too_old": 4, "line_too_long": 2, "too_new": 10}


def test_the_ingesters_total_counts_the_entries_of_the_reason_before_it() -> None:
    body = (
        "entry with timestamp 2026-11-24 15:00:00 +0000 UTC ignored, reason: 'entry out of order',\n"
        "entry with timestamp 2026-11-24 15:00:01 +0000 UTC ignored, reason: 'entry out of order',\n"
        "user 'fake', total ignored: 37 out of 40 for stream: {a=\"b\"}\n"
        "entry with timestamp 2026-11-24 15:00:00 +0000 UTC ignored, reason: 'something new',\n"
        "user 'fake', total ignored: 2 out of 5 for stream: {c=\"d\"}\n"
        "user 'fake', total ignored: 4 out of 9 for stream: {e=\"f\"}\n"
    )
    assert parse_rejections(body) == {
        "too_far_behind": 37,
        "refused by Loki: something new": 2,
        "refused by Loki: user 'fake', total ignored: 4 out of 9 for stream: {e=\"f\"}": 4,
    }


def test_totals_of_one_reason_from_several_streams_add_up() -> None:
    body = (
        "entry with timestamp 2026-11-24 15:00:00 +0000 UTC ignored, reason: 'entry too far behind',\n"
        "user 'fake', total ignored: 37 out of 40 for stream: {a=\"b\"}\n"
        "entry with timestamp 2026-11-24 15:00:00 +0000 UTC ignored, reason: 'entry too far behind',\n"
        "user 'fake', total ignored: 2 out of 5 for stream: {c=\"d\"}\n"
    )
    assert parse_rejections(body) == {"too_far_behind": 39}


def test_an_answer_that_is_not_utf8_is_still_said() -> None:
    assert classify(500, b"boom \xff\xfe", None, dict) == Permanent("HTTP 500: boom \ufffd\ufffd", refused=False)


def test_a_label_refusal_counts_the_streams_entries_when_the_stream_is_known() -> None:
    body = f"entry for stream '{STREAM}' has 16 label names; limit 15"
    assert parse_rejections(body, {STREAM: 7}) == {"labels": 7}
    assert parse_rejections(body, {'{other="x"}': 7}) == {"labels": 1}
    assert parse_rejections(body) == {"labels": 1}
    assert parse_rejections(f"5 errors like: {body}", {STREAM: 2}) == {"labels": 5}  # never fewer than said
    too_old = f"entry for stream '{STREAM}' has timestamp too old: 2026-11-14T19:33:50Z"
    assert parse_rejections(too_old, {STREAM: 7}) == {"too_old": 1}  # only a label problem is the stream's


@pytest.mark.parametrize(
    "body",
    [
        "couldn't parse labels: 1:3: parse error",
        "error at least one label pair is required per stream",
        "loghttp.PushRequest: invalid",
        "failed to unmarshal the push",
        "gzip: invalid header",
        "COULDN'T PARSE LABELS",
    ],
)
def test_a_push_loki_cannot_read_is_refused_whole(body: str) -> None:
    assert refuses_whole_push(body)
    assert classify(400, body.encode(), None, dict) == Permanent(f"HTTP 400: {body}", refused=True)


def test_a_push_with_one_bad_entry_is_not_refused_whole() -> None:
    assert not refuses_whole_push("entry for stream '{a=\"b\"}' has timestamp too old: x")


def test_label_values_are_quoted_as_loki_quotes_them() -> None:
    labels = (("b", 'say "hi"'), ("a", "back\\slash"), ("c", "two\nlines\tand a tab"))
    assert label_string(labels) == '{a="back\\\\slash", b="say \\"hi\\"", c="two\\nlines\\tand a tab"}'


@pytest.mark.parametrize("status", [200, 204, 299])
def test_any_2xx_is_delivered(status: int) -> None:
    assert classify(status, b"", None, dict) == Delivered()


def test_an_answer_without_a_body_says_so() -> None:
    assert classify(300, b"", None, dict) == Permanent("HTTP 300: no body", refused=False)
    assert classify(400, b"", None, dict) == Permanent("HTTP 400: no body")


def test_retry_after_comes_with_a_retryable_answer() -> None:
    assert classify(429, b"slow down\n", "3", dict) == Retryable("HTTP 429: slow down", 3.0)


def test_a_partial_400_names_its_reasons_and_hints_at_shifting_only_for_old_entries() -> None:
    streams = {STREAM: 4}
    old = classify(400, b"entry too far behind, entry timestamp is: x", None, lambda: streams)
    assert old == Partial({REASONS["too_far_behind"]: 1}, (OLD_ENTRIES_HINT,))
    too_old = classify(400, b"3 errors like: has timestamp too old: x", None, lambda: streams)
    assert too_old == Partial({REASONS["too_old"]: 3}, (OLD_ENTRIES_HINT,))
    long = classify(400, b"Max entry size '9' bytes exceeded", None, lambda: streams)
    assert long == Partial({REASONS["line_too_long"]: 1}, ())
    label = classify(400, f"stream '{STREAM}' has label value too long: 'v'".encode(), None, lambda: streams)
    assert label == Partial({REASONS["labels"]: 4}, ())
