"""``replay --scrub``: planted secrets in every place a CodeMachine folder and an OTLP
JSON Lines file can hold them, at every depth; none is in the bytes written (--output)
or received (the loopback OTLP and Loki receivers); counts and trace structure stay; the
same salt gives the same bytes; --scrub-check shows no value; the salt is never printed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.loki import LokiReceiver
from tests.fakes.otlp import OtlpReceiver
from tests.helpers import (
    data_point,
    log_doc,
    log_file,
    metric_doc,
    metrics_export,
    metrics_file,
    replay,
    replay_json,
    span_doc,
    trace_file,
)

#: What must not leave the machine, each in a form one of the presets catches, and the
#: part of it that must not be found in any byte written or received.
PLANTED = {
    "https://bob:PlantedUrlPw1@git.example.com/r": "PlantedUrlPw1",
    "Authorization: Bearer PlantedBearerTok1": "PlantedBearerTok1",
    "password=PlantedPass1": "PlantedPass1",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIPlantedPEMbody\n-----END RSA PRIVATE KEY-----": "MIIPlantedPEMbody",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.PlantedJwtSig1": "PlantedJwtSig1",
    "sk-ant-api03-PlantedAnthropic01": "PlantedAnthropic01",
    "ghp_PlantedGitHub0123456789abcdefghijkl": "PlantedGitHub",
    "xoxb-1234-PlantedSlack1": "PlantedSlack1",
    "AKIAPLANTEDKEY012345": "AKIAPLANTEDKEY012345",
    "planted.person@example.org": "planted.person",
    "203.0.113.77": "203.0.113.77",
    "2001:db8:85a3::8a2e:370:7334": "2001:db8:85a3::8a2e:370:7334",
    "at run (/home/plantuser/proj/src/app.ts:1:2)": "plantuser",
    "/Users/plantmac/x": "plantmac",
    "C:\\Users\\plantwin\\x": "plantwin",
}
#: Every planted form in one string: what each string place of the fixture holds.
TEXT = " | ".join(PLANTED)
#: Values under keys the presets act on by key.
BY_KEY = {
    "workflow.spec_preview": "PlantedSpecText",  # codemachine: deleted
    "cli.boot.cwd": "/srv/PlantedProject",  # codemachine: hashed
    "cli.boot.args": '["--dir","PlantedArgDir"]',
    "process.owner": "PlantedOwner",  # pii: hashed
    "host.name": "PlantedHost",
    "db.password": "PlantedDbPw",  # secrets: by key
}
NEEDLES = [*PLANTED.values(), *BY_KEY.values()]
PRESETS = ("--scrub", "codemachine", "--scrub", "secrets", "--scrub", "pii")


def deep(text: str) -> Any:
    """``text`` at depths 1-3 of arrays and maps."""
    return [text, {"k": [text, {"kk": text}]}]


def codemachine_folder(root: Path) -> Path:
    day = root / "traces" / "2026-11-24"
    attrs = {"a": TEXT, "arr": [TEXT, "ok"], **BY_KEY, "mcp.args": [TEXT]}
    exc = {"exception.type": "E", "exception.message": TEXT, "exception.stacktrace": f"Error: {TEXT}\n    at x"}
    spans = [
        span_doc(name=f"cli.boot {TEXT}", attributes=attrs, status={"code": 2, "message": TEXT}),
        span_doc(
            span_id="00f067aa0ba902b7",
            parentSpanId="b7ad6b7169203331",
            name="child",
            attributes={"nested.n": 3},
            events=[
                {"name": "exception", "time": 1795539600050.5, "attributes": exc},
                {"name": f"ev {TEXT}", "time": 1795539600060.5, "attributes": {"e": [TEXT]}},
            ],
        ),
    ]
    trace_file(day / "17-00-00.json", spans)
    resource = {"service.name": "codemachine", "host.name": "PlantedHost", "x": TEXT}
    logs = [
        log_doc(body=TEXT, attributes={"a": TEXT, "trace.id": "0af7651916cd43dd8448eb211c80319c"}, resource=resource),
        log_doc(
            nanos=1_000_000, body={"msg": TEXT, "list": deep(TEXT)}, attributes={"m": [TEXT, TEXT]}, resource=resource
        ),
    ]
    log_file(day / "17-00-00-logs.json", logs)
    node = {"process.owner": "PlantedOwner", "host.name": "PlantedHost", "process.command_args": [TEXT]}
    point = data_point(5, "2026-11-24T17:00:00.000Z", "2026-11-24T17:00:01.000Z", where=TEXT)
    metrics_file(
        day / "17-00-00-metrics.json",
        [metrics_export({"codemachine.engine": [metric_doc("engine.llm.calls", "3", [point])]}, resource=node)],
    )
    return root / "traces"


def _value(v: Any) -> dict[str, Any]:
    if isinstance(v, str):
        return {"stringValue": v}
    if isinstance(v, list):
        return {"arrayValue": {"values": [_value(x) for x in v]}}
    if isinstance(v, dict):
        return {"kvlistValue": {"values": _attrs(v)}}
    return {"intValue": str(v)}


def _attrs(d: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": _value(v)} for k, v in d.items()]


def otlp_jsonl(path: Path) -> Path:
    resource = {"attributes": _attrs({"service.name": "svc", "r": deep(TEXT), **BY_KEY})}
    scope = {"name": "lib", "version": "1", "attributes": _attrs({"s": TEXT})}
    t0 = 1795539600_000_000_000
    span = {
        "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
        "spanId": "00f067aa0ba902b7",
        "name": f"GET {TEXT}",
        "kind": 2,
        "startTimeUnixNano": str(t0),
        "endTimeUnixNano": str(t0 + 10**6),
        "attributes": _attrs({"a": TEXT, "d": deep(TEXT), **BY_KEY}),
        "events": [{"timeUnixNano": str(t0 + 5), "name": f"ev {TEXT}", "attributes": _attrs({"e": deep(TEXT)})}],
        "links": [
            {
                "traceId": "5bf92f3577b34da6a3ce929d0e0e4736",
                "spanId": "10f067aa0ba902b7",
                "attributes": _attrs({"l": TEXT}),
            }
        ],
        "status": {"code": 2, "message": TEXT},
    }
    child = {**span, "spanId": "20f067aa0ba902b7", "parentSpanId": "00f067aa0ba902b7", "links": []}
    logs = [
        {
            "timeUnixNano": str(t0 + 7),
            "severityNumber": 17,
            "body": _value(TEXT),
            "attributes": _attrs({"a": deep(TEXT)}),
        },
        {"timeUnixNano": str(t0 + 8), "severityNumber": 9, "body": _value({"m": deep(TEXT)}), "eventName": f"e {TEXT}"},
    ]
    point = {"asInt": "7", "timeUnixNano": str(t0 + 9), "attributes": _attrs({"p": deep(TEXT)})}
    metric = {"name": "requests", "sum": {"dataPoints": [point], "aggregationTemporality": 2, "isMonotonic": True}}
    lines = [
        {"resourceSpans": [{"resource": resource, "scopeSpans": [{"scope": scope, "spans": [span, child]}]}]},
        {"resourceLogs": [{"resource": resource, "scopeLogs": [{"scope": scope, "logRecords": logs}]}]},
        {"resourceMetrics": [{"resource": resource, "scopeMetrics": [{"scope": scope, "metrics": [metric]}]}]},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


@pytest.fixture
def planted(tmp_path: Path) -> list[str]:
    return [str(codemachine_folder(tmp_path / "cm")), str(otlp_jsonl(tmp_path / "otlp.jsonl"))]


def found(data: bytes) -> list[str]:
    """The needles in ``data`` (as UTF-8, and as JSON escapes them)."""
    text = data.decode("utf-8", "replace")
    return [n for n in NEEDLES if n in text or json.dumps(n)[1:-1] in text]


def read_output(out: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(out.iterdir()))


def structure(out: Path) -> tuple[list[tuple[str, str, str, str, str]], int, int]:
    """The spans' (trace, span, parent, start, end), the log record and data point counts."""
    spans, logs, points = [], 0, 0
    for line in (out / "traces.jsonl").read_text().splitlines():
        for rs in json.loads(line)["resourceSpans"]:
            for ss in rs["scopeSpans"]:
                for s in ss["spans"]:
                    spans.append(
                        (
                            s["traceId"],
                            s["spanId"],
                            s.get("parentSpanId", ""),
                            s["startTimeUnixNano"],
                            s["endTimeUnixNano"],
                        )
                    )
    for line in (out / "logs.jsonl").read_text().splitlines():
        logs += sum(len(sl["logRecords"]) for rl in json.loads(line)["resourceLogs"] for sl in rl["scopeLogs"])
    for line in (out / "metrics.jsonl").read_text().splitlines():
        for rm in json.loads(line)["resourceMetrics"]:
            for sm in rm["scopeMetrics"]:
                points += sum(
                    len(next(iter(v for k, v in m.items() if isinstance(v, dict)))["dataPoints"]) for m in sm["metrics"]
                )
    return sorted(spans), logs, points


def test_the_fixture_holds_every_needle_unscrubbed(planted: list[str], tmp_path: Path) -> None:
    out = tmp_path / "plain"
    result = replay(*planted, "--output", str(out))
    assert result.exit_code == 0, result.output
    assert sorted(found(read_output(out))) == sorted(NEEDLES)  # the scan below can find them


def test_output_holds_no_planted_value_and_the_same_structure(planted: list[str], tmp_path: Path) -> None:
    plain, scrubbed = tmp_path / "plain", tmp_path / "scrubbed"
    assert replay(*planted, "--output", str(plain)).exit_code == 0
    result = replay(*planted, *PRESETS, "--scrub-salt", "team-salt-1", "--output", str(scrubbed))
    assert result.exit_code == 0, result.output
    assert found(read_output(scrubbed)) == []
    assert structure(scrubbed) == structure(plain)
    spans, logs, points = structure(scrubbed)
    assert (len(spans), logs, points) == (4, 4, 2)
    text = read_output(scrubbed).decode()
    assert "/home/‹user:" in text and "/webapp" not in text  # a path keeps its shape
    assert "team-salt-1" not in result.output


def test_the_same_salt_gives_the_same_bytes_another_salt_other_tokens(planted: list[str], tmp_path: Path) -> None:
    outs = {}
    for name, salt in (("a", "salt-one"), ("b", "salt-one"), ("c", "salt-two")):
        assert replay(*planted, *PRESETS, "--scrub-salt", salt, "--output", str(tmp_path / name)).exit_code == 0
        outs[name] = read_output(tmp_path / name)
    assert outs["a"] == outs["b"]
    assert outs["a"] != outs["c"]
    assert outs["a"].count("‹user:".encode()) == outs["c"].count("‹user:".encode())


def test_the_salt_comes_from_the_environment_and_is_never_printed(
    planted: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_REPLAY_SCRUB_SALT", "env-salt-value")
    code, summary = replay_json(*planted, *PRESETS, "--output", str(tmp_path / "a"))
    assert code == 0
    assert replay(*planted, *PRESETS, "--scrub-salt", "env-salt-value", "--output", str(tmp_path / "b")).exit_code == 0
    assert read_output(tmp_path / "a") == read_output(tmp_path / "b")
    assert "env-salt-value" not in json.dumps(summary)


def test_without_a_salt_each_run_hashes_differently(planted: list[str], tmp_path: Path) -> None:
    for name in ("a", "b"):
        assert replay(*planted, *PRESETS, "--output", str(tmp_path / name)).exit_code == 0
    assert found(read_output(tmp_path / "a")) == []
    assert read_output(tmp_path / "a") != read_output(tmp_path / "b")


@pytest.mark.parametrize("workers", ["1", "2"])
def test_the_bytes_received_hold_no_planted_value(
    planted: list[str], collector: OtlpReceiver, loki: LokiReceiver, workers: str
) -> None:
    code, summary = replay_json(
        *planted, *PRESETS, "--otlp-endpoint", collector.url, "--loki-url", loki.url, "--workers", workers
    )
    assert code == 0, summary
    received = b"".join(collector.bodies + loki.bodies)
    assert collector.bodies and loki.bodies
    assert found(received) == []
    assert len(collector.spans()) == 4
    assert sum(len(s["values"]) for push in loki.pushes for s in push["streams"]) == 4


def test_logs_to_otlp_are_scrubbed_too(planted: list[str], collector: OtlpReceiver) -> None:
    code, _ = replay_json(*planted, *PRESETS, "--otlp-endpoint", collector.url, "--logs-to", "otlp")
    assert code == 0
    assert found(b"".join(collector.bodies)) == []


def test_scrub_check_lists_rules_and_keys_never_values(planted: list[str], collector: OtlpReceiver) -> None:
    result = replay(*planted, *PRESETS, "--scrub-check", "--otlp-endpoint", collector.url, "--scrub-salt", "x-salt")
    assert result.exit_code == 0
    assert found(result.output.encode()) == [] and "x-salt" not in result.output
    assert "codemachine/previews (delete)" in result.output
    assert "span[workflow.spec_preview]: 3" in result.output  # one CodeMachine span, two OTLP spans
    assert "pii/home-user (replace)" in result.output and "log.body" in result.output
    assert "nothing was sent" in result.output
    assert collector.attempts == 0  # --scrub-check sends nothing


def test_scrub_check_json(planted: list[str]) -> None:
    code, doc = replay_json(*planted, "--scrub", "secrets", "--scrub-check")
    assert code == 0
    by_rule = {r["rule"]: r for r in doc["scrub_check"]}
    assert by_rule["secrets/jwt"]["values"] > 0 and by_rule["secrets/jwt"]["kind"] == "replace"
    assert found(json.dumps(doc).encode()) == []


def test_scrub_check_needs_rules(planted: list[str]) -> None:
    result = replay(*planted, "--scrub-check")
    assert result.exit_code == 2
    assert "--scrub-check" in result.output and "give the rules" in result.output


def test_a_bad_rules_file_is_a_usage_error_naming_file_and_line(planted: list[str], tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text('[[delete]]\nkeys = ["a"]\n\n[[replace]]\npattern = "(unclosed"\nreplacement = "x"\n')
    result = replay(*planted, "--scrub", str(rules), "--dry-run")
    assert result.exit_code == 2
    assert f"{rules}:4: bad pattern" in result.output
    assert "Traceback" not in result.output


def test_a_rules_file_applies_its_own_rules(planted: list[str], tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(
        '[[delete]]\nkeys = ["a", "d"]\nin = ["span"]\n[[keep]]\nkeys = ["service.name"]\nin = ["resource"]\n'
    )
    out = tmp_path / "out"
    assert replay(*planted, "--scrub", str(rules), "--output", str(out), "--traces-only").exit_code == 0
    for line in (out / "traces.jsonl").read_text().splitlines():
        for rs in json.loads(line)["resourceSpans"]:
            assert [a["key"] for a in rs["resource"]["attributes"]] == ["service.name"]
            for ss in rs["scopeSpans"]:
                for s in ss["spans"]:
                    assert not {"a", "d"} & {a["key"] for a in s.get("attributes", [])}


def test_a_salt_without_rules_is_warned_about_never_shown(planted: list[str]) -> None:
    result = replay(*planted, "--scrub-salt", "lonely-salt", "--dry-run")
    assert result.exit_code == 0
    assert "--scrub-salt does nothing in this run: no --scrub rules are given" in result.output
    assert "lonely-salt" not in result.output


def test_scrub_check_shows_a_key_from_input_as_text(tmp_path: Path) -> None:
    trace_file(tmp_path / "t.json", [span_doc(attributes={"evil\x1b]0;owned\x07.password": "x1234"})])
    result = replay(str(tmp_path), "--scrub", "secrets", "--scrub-check")
    assert result.exit_code == 0
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "span[evil\\x1b]0;owned\\x07.password]: 1" in result.output
