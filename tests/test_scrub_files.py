"""The pure parts of ``otel-replay scrub``: OTLP ``AnyValue`` decoding and encoding, a
document scrubbed in place (untouched values kept as written), the format of a copy, and
where each input goes in it (never outside it)."""

from __future__ import annotations

import json

import pytest

from otel_replay.scrub.copy import DAMAGED, NOT_TELEMETRY, relative_name, safe_path, scrub_bytes
from otel_replay.scrub.documents import Opaque, decode, encode, scrub_codemachine, scrub_otlp
from otel_replay.scrub.presets import build_scrubber
from otel_replay.scrub.target import Target


def scrubber():  # type: ignore[no-untyped-def]
    return build_scrubber(["codemachine", "secrets", "pii"], "unit-salt")


@pytest.mark.parametrize(
    ("value", "plain"),
    [
        ({"stringValue": "a"}, "a"),
        ({"boolValue": True}, True),
        ({"intValue": "12"}, 12),
        ({"intValue": 12}, 12),
        ({"doubleValue": 1.5}, 1.5),
        ({"arrayValue": {"values": [{"stringValue": "x"}, {"intValue": "1"}]}}, ["x", 1]),
        ({"arrayValue": {}}, []),
        ({"kvlistValue": {"values": [{"key": "k", "value": {"stringValue": "v"}}]}}, {"k": "v"}),
        ({}, None),
    ],
)
def test_decode(value: dict[str, object], plain: object) -> None:
    assert decode(value) == plain


def test_bytes_and_unknown_shapes_are_opaque_and_come_back_as_written() -> None:
    for raw in ({"bytesValue": "AAE="}, {"what": 1}, "not an object", {"intValue": "x"}):
        value = decode(raw)
        assert isinstance(value, Opaque)
        assert encode(value) is raw


def test_encode_inverts_decode() -> None:
    value = {"kvlistValue": {"values": [{"key": "a", "value": {"arrayValue": {"values": [{"intValue": "3"}]}}}]}}
    assert encode(decode(value)) == value
    assert encode(["‹user:1›", 2.5, False, None]) == {
        "arrayValue": {"values": [{"stringValue": "‹user:1›"}, {"doubleValue": 2.5}, {"boolValue": False}, {}]}
    }


def test_otlp_attributes_untouched_stay_as_written_changed_ones_are_re_encoded() -> None:
    kept = {"key": "n", "value": {"intValue": 7}}  # a number, not the usual string: kept as is
    doc = {
        "resourceLogs": [
            {
                "resource": {"attributes": [{"key": "host.name", "value": {"stringValue": "laptop-of-ann"}}, kept]},
                "scopeLogs": [
                    {
                        "logRecords": [
                            {
                                "body": {"stringValue": "mail ann@example.org"},
                                "traceId": "0af7651916cd43dd8448eb211c80319c",
                                "attributes": [{"key": "db.password", "value": {"stringValue": "hunter2"}}],
                            }
                        ]
                    }
                ],
            }
        ]
    }
    scrub_otlp(doc, scrubber())
    block = doc["resourceLogs"][0]
    attrs = block["resource"]["attributes"]
    assert attrs[1] is kept
    assert attrs[0]["value"]["stringValue"].startswith("‹host:")
    log = block["scopeLogs"][0]["logRecords"][0]
    assert log["body"]["stringValue"].startswith("mail ‹email:")
    assert log["attributes"][0]["value"] == {"stringValue": "‹secret›"}
    assert log["traceId"] == "0af7651916cd43dd8448eb211c80319c"


def test_codemachine_log_correlation_keys_stay() -> None:
    ids = {"trace.id": "0af7651916cd43dd8448eb211c80319c", "span.id": "b7ad6b7169203331"}
    doc = {"logs": [{"body": "at /home/ann/x", "attributes": {**ids, "user.name": "ann"}, "resource": {}}]}
    rules = build_scrubber(["pii"], "s")
    scrub_codemachine(doc, rules)
    attributes = doc["logs"][0]["attributes"]
    assert list(attributes) == ["trace.id", "span.id", "user.name"]
    assert {k: attributes[k] for k in ids} == ids
    assert attributes["user.name"] == rules.token("ann", "user")
    assert doc["logs"][0]["body"] == f"at /home/{rules.token('ann', 'user')}/x"


def test_a_copy_keeps_its_format() -> None:
    s = scrubber()
    pretty = json.dumps({"version": 1, "spans": [{"name": "ann@example.org"}]}, indent=2)
    copy = scrub_bytes(pretty.encode(), s, "a.json")
    assert copy.format == "codemachine"
    assert copy.data is not None and copy.data.decode().startswith('{\n  "version": 1,\n  "spans": [\n    {')
    lines = b'{"resourceSpans": []}\nbroken\n\n{"resourceSpans": []}\n'
    copy = scrub_bytes(lines, s, "b.jsonl")
    assert (copy.format, copy.data, copy.lines_left_out) == ("json-lines", b'{"resourceSpans":[]}\n' * 2, 1)
    four = json.dumps({"resourceSpans": []}, indent=4) + "\n"
    copy = scrub_bytes(four.encode(), s, "c.json")
    assert copy.format == "otlp-json" and copy.data == four.encode()
    assert scrub_bytes(b'{"a": 1}', s, "d.json").left_out == NOT_TELEMETRY
    assert scrub_bytes(b'{"spans": [', s, "e.json").left_out == DAMAGED
    assert scrub_bytes(b"\xff\xfe", s, "f.json").left_out == DAMAGED


@pytest.mark.parametrize(
    ("path", "name", "where"),
    [
        ("/r/bug", "/r/bug/traces/2026-11-24/a.json", "traces/2026-11-24/a.json"),
        ("/r/spans.jsonl.gz", "/r/spans.jsonl.gz", "spans.jsonl.gz"),
        ("bug.zip", "bug.zip!traces/latest.json", "traces/latest.json"),
        ("bug.zip", "bug.zip!inner.tar.gz!x/a.json", "inner/x/a.json"),
        ("/r/in", "/r/in/sub/b.zip!c.json", "sub/b/c.json"),
        ("-", "<stdin>", "stdin.json"),
        ("-", "<stdin>!a/b.json", "a/b.json"),
        ("evil.zip", "evil.zip!../../etc/passwd", "etc/passwd"),
    ],
)
def test_where_an_input_goes_in_the_copy(path: str, name: str, where: str) -> None:
    assert relative_name(path, name) == where


def test_a_path_never_leaves_the_copy() -> None:
    assert safe_path("/abs/../x") == "abs/x"
    assert safe_path("..\\..\\win") == "win"
    assert safe_path("") == "input"


def test_names_written_twice_are_told_apart(tmp_path) -> None:  # type: ignore[no-untyped-def]
    target = Target(str(tmp_path / "out"), overwrite=False)
    try:
        assert [target.unique(n) for n in ("a/x.json", "a/x.json", "SCRUBBED.json", "y")] == [
            "a/x.json",
            "a/x-2.json",
            "SCRUBBED-2.json",
            "y",
        ]
    finally:
        target.discard()
    assert not list(tmp_path.iterdir())


def test_a_compressed_file_is_compressed_again_the_same_way() -> None:
    import gzip

    import zstandard

    line = b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"body": {"stringValue": "ann@example.org"}}]}]}]}\n'
    plain = scrub_bytes(line, scrubber(), "a.jsonl").data
    assert plain is not None and b"ann@" not in plain
    gz = scrub_bytes(line, scrubber(), "a.jsonl.gz").data
    zst = scrub_bytes(line, scrubber(), "a.jsonl.zst").data
    assert gz is not None and zst is not None
    assert gzip.decompress(gz) == plain and zstandard.ZstdDecompressor().decompressobj().decompress(zst) == plain
    assert gz == scrub_bytes(line, scrubber(), "b/a.jsonl.gz").data  # no name, no time in the header
