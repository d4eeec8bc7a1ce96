"""``replay --verify`` and ``otel-replay verify`` against fakes that also serve Tempo's and
Loki's query APIs from what they received (tests/fakes/tempo_query.py, loki_query.py), one
of them losing 1 % of what it acknowledged."""

from __future__ import annotations

import json
import re
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from click.testing import CliRunner

from otel_replay.cli import main
from otel_replay.model import Signal
from otel_replay.verify.loki import count_query, selector
from otel_replay.verify.result import SignalCheck, VerifyResult
from otel_replay.verify.sent import SentSpan
from otel_replay.verify.tempo import differences
from tests.fakes.loki_query import LokiWithQueries
from tests.fakes.server import Answer
from tests.fakes.tempo_query import TRACE_PATH, TempoWithQueries
from tests.helpers import (
    EXAMPLE,
    EXAMPLE_NOW_NS,
    FAKES_SHOW_EVERY_AGE,
    Children,
    log_doc,
    log_file,
    span_doc,
    trace_file,
    zip_archive,
)
from tests.otlp_samples import logs_request, trace_request, write_lines

SEC = 1795539600


@pytest.fixture
def tempo_q() -> Iterator[TempoWithQueries]:
    with TempoWithQueries() as server:
        yield server  # type: ignore[misc]


@pytest.fixture
def loki_q() -> Iterator[LokiWithQueries]:
    with LokiWithQueries(now_ns=lambda: EXAMPLE_NOW_NS) as server:
        yield server  # type: ignore[misc]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def backends(tempo: TempoWithQueries, loki: LokiWithQueries) -> list[str]:
    return ["--otlp-endpoint", tempo.url, "--tempo-query-url", tempo.url, "--loki-url", loki.url]


def many(tmp_path: Path, n: int) -> Path:
    """A report of ``n`` spans (one trace each 10, every 7th span an error) and ``n`` log records."""
    spans = [
        span_doc(
            trace_id=f"{i // 10 + 1:032x}",
            span_id=f"{i + 1:016x}",
            name=f"op {i}",
            startTime=1795539600000 + i,
            endTime=1795539600100.5 + i,
            status={"code": 2, "message": "boom"} if i % 7 == 0 else {"code": 0},
        )
        for i in range(n)
    ]
    trace_file(tmp_path / "in" / "spans.json", spans)
    log_file(
        tmp_path / "in" / "logs.json", [log_doc(sec=SEC + i // 100, nanos=i * 1000, body=f"m {i}") for i in range(n)]
    )
    return tmp_path / "in"


def test_replay_verify_reads_back_every_span_and_entry_of_the_example(
    tempo_q: TempoWithQueries, loki_q: LokiWithQueries
) -> None:
    code, out, err = run(
        "replay", str(EXAMPLE), "--signals", "traces,logs", "--verify", "--json", *backends(tempo_q, loki_q)
    )
    doc = json.loads(out)
    checks = doc["verify"]["signals"]
    assert code == 0, (out, err)
    spans, logs = doc["signals"]["traces"]["sent"], doc["signals"]["logs"]["sent"]
    assert checks["traces"]["sent"] == checks["traces"]["found"] == spans > 0
    assert checks["logs"]["sent"] == checks["logs"]["found"] == logs > 0
    assert doc["verify"]["replay_id"] == doc["replay_id"]
    # every query was restricted to this run's entries
    assert loki_q.queries and all(f'replay_id="{doc["replay_id"]}"' in q for q in loki_q.queries)
    assert len(set(tempo_q.queries)) == len({s.trace_id for _, _, s in tempo_q.spans()})


def test_a_tempo_that_drops_one_percent_makes_verify_fail_and_name_the_spans(
    tmp_path: Path, loki_q: LokiWithQueries
) -> None:
    inputs = many(tmp_path, 300)
    with TempoWithQueries(drop_every=100) as tempo:
        code, out, err = run("replay", str(inputs), "--verify", "--verify-timeout", "1s", *backends(tempo, loki_q))
        lost = tempo.dropped()
    assert len(lost) == 3
    assert code == 1, (out, err)
    assert "traces  300 spans sent: 297 found, 3 missing" in out
    for trace_id, span_id in lost:
        assert f"missing span {trace_id.hex()}/{span_id.hex()}" in out
    assert "logs    300 entries sent: 300 found" in out
    assert "NOT all read back" in out
    assert "waiting up to 1 s for Tempo to serve 3 trace(s)" in err


def test_a_loki_that_drops_one_percent_makes_verify_fail_and_name_the_records(
    tmp_path: Path, tempo_q: TempoWithQueries
) -> None:
    inputs = many(tmp_path, 300)
    with LokiWithQueries(drop_every=100, now_ns=lambda: EXAMPLE_NOW_NS) as loki:
        code, out, err = run("replay", str(inputs), "--verify", "--verify-timeout", "1s", *backends(tempo_q, loki))
        lost = loki.dropped()
    assert len(lost) == 3
    assert code == 1, (out, err)
    assert "logs    300 entries sent: 297 found, 3 missing" in out
    for _, ts, line, _ in lost:
        assert re.search(rf"missing log record \S*logs\.json\[\d+\] .* at {ts} {json.dumps(line)}", out), out
    assert "traces  300 spans sent: 300 found" in out


def test_entries_past_lokis_ingester_window_are_stored_not_yet_queryable_not_missing(
    tmp_path: Path, tempo_q: TempoWithQueries, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With Loki's defaults (not the fakes' "any age at once") and the recorded times kept,
    entries older than 3 hours that Loki does not serve are stored (it answered 204) but
    not yet queryable: said so, with what to do, and not counted missing (docs/time.md)."""
    for name in FAKES_SHOW_EVERY_AGE:
        monkeypatch.delenv(name)
    inputs = many(tmp_path, 300)
    with LokiWithQueries(drop_every=100, now_ns=lambda: EXAMPLE_NOW_NS) as loki:
        args = ("replay", str(inputs), "--keep-times", "--verify", "--verify-timeout", "1s", *backends(tempo_q, loki))
        code, out, err = run(*args)
        lost = loki.dropped()
    assert len(lost) == 3
    assert code == 1, (out, err)
    assert "logs    300 entries sent: 297 found, 3 stored, not yet queryable" in out, out
    for _, ts, line, _ in lost:
        named = rf"stored, not yet queryable: log record \S*logs\.json\[\d+\] .* at {ts} {json.dumps(line)}"
        assert re.search(named, out), out
    assert "note: entries older than what Loki's queriers ask its ingester about (3 hours by default)" in out
    assert "verify again later" in out and "NOT all read back" in out


def test_verify_checks_an_earlier_run_from_its_state_file(
    tmp_path: Path, tempo_q: TempoWithQueries, loki_q: LokiWithQueries
) -> None:
    inputs = many(tmp_path, 20)
    state = str(tmp_path / "run.state")
    code, out, _ = run(
        "replay", str(inputs), "--resume", state, "--time-offset", "1h", "--json", *backends(tempo_q, loki_q)
    )
    assert code == 0, out
    replay_id = json.loads(out)["replay_id"]
    assert json.loads(Path(state).read_text().splitlines()[0])["replay_id"] == replay_id
    code, out, err = run("verify", str(inputs), "--resume", state, "--json", *backends(tempo_q, loki_q))
    doc = json.loads(out)
    assert code == 0, (out, err)
    assert doc["replay_id"] == replay_id
    assert doc["signals"]["traces"]["found"] == 20 and doc["signals"]["logs"]["found"] == 20
    # the same inputs without the offset are not what was sent: nothing found where it was looked for
    code, out, _ = run(
        "verify", str(inputs), "--replay-id", replay_id, "--verify-timeout", "0.2s", *backends(tempo_q, loki_q)
    )
    assert code == 1
    assert "traces  20 spans sent: 20 found, 20 different" in out
    assert "start " in out and "logs    20 entries sent: 0 found, 20 missing" in out


def test_traces_with_errors_get_a_grafana_link(
    tmp_path: Path, tempo_q: TempoWithQueries, loki_q: LokiWithQueries
) -> None:
    inputs = many(tmp_path, 20)  # spans 0, 7 and 14 are errors: traces 1 and 2
    code, out, _ = run(
        "replay", str(inputs), "--verify", "--grafana-url", "http://grafana.example:3000", *backends(tempo_q, loki_q)
    )
    assert code == 0, out
    links = re.findall(r"^    ([0-9a-f]{32})  (\S+)$", out, re.M)
    assert [t for t, _ in links] == [f"{1:032x}", f"{2:032x}"]
    for trace_id, link in links:
        parts = urlsplit(link)
        assert (parts.netloc, parts.path) == ("grafana.example:3000", "/explore")
        pane: dict[str, Any] = json.loads(unquote(parse_qs(parts.query)["panes"][0]))["a"]
        assert pane["datasource"] == "tempo" and pane["queries"][0]["query"] == trace_id


def test_verify_refuses_stdin_and_shift_to_now(tmp_path: Path) -> None:
    inputs = many(tmp_path, 2)
    code, _, err = run("verify", str(inputs), "--shift-to-now")
    assert code == 2 and "--shift-to-now offset" in err
    code, _, err = run("replay", str(inputs), "--verify", "--dry-run")
    assert code == 2 and "--verify reads back what was sent" in err


def test_a_backend_that_cannot_be_asked_is_one_line_and_exit_1(tmp_path: Path, loki_q: LokiWithQueries) -> None:
    inputs = many(tmp_path, 3)
    with TempoWithQueries() as tempo:
        args = ["--otlp-endpoint", tempo.url, "--loki-url", loki_q.url, "--tempo-query-url", "http://127.0.0.1:9"]
        code, out, err = run("replay", str(inputs), "--verify", *args)
    assert code == 1
    assert "error: cannot ask Tempo at http://127.0.0.1:9: ConnectionError" in out
    assert "Traceback" not in out + err


def _span(**changes: Any) -> SentSpan:
    base = dict(
        trace_id=1,
        span_id=2,
        parent_span_id=3,
        name="op",
        start_ns=10,
        end_ns=20,
        status_code=2,
        events=1,
        attributes=2,
        origin="f.json[0]",
    )
    return SentSpan(**{**base, **changes})  # type: ignore[arg-type]


def test_differences_compare_what_tempo_answers_field_by_field() -> None:
    got = {
        "spanId": "AAAAAAAAAAI=",
        "parentSpanId": "AAAAAAAAAAM=",
        "name": "op",
        "startTimeUnixNano": "10",
        "endTimeUnixNano": "20",
        "status": {"code": "STATUS_CODE_ERROR", "message": "x"},
        "events": [{}],
        "attributes": [{}, {}],
    }
    assert differences(_span(), got) == []
    assert differences(_span(name="\x1b[31mred", status_code=0, parent_span_id=0), got) == [
        'name "op" (sent "\\u001b[31mred")',
        'parent "0000000000000003" (sent "0000000000000000")',
        'status "2" (sent "0")',
    ]
    assert differences(_span(status_code=0), {**got, "status": {}}) == []


def test_logql_quotes_label_values() -> None:
    stream = (("imported", "true"), ("service_name", 'a"b\\c'))
    assert selector(stream, "abc") == '{imported="true", service_name="a\\"b\\\\c"} | replay_id="abc"'
    assert count_query(stream, None, 5) == 'sum(count_over_time({imported="true", service_name="a\\"b\\\\c"} [5s]))'


def test_the_text_result_shows_escape_codes_from_the_input_as_text() -> None:
    check = SignalCheck(Signal.TRACES, "spans", sent=2, found=1)
    check.miss('span 01/02 "op" (\x1b[31mevil.json[0])')
    text = VerifyResult([check]).render_text()
    assert "\x1b" not in text
    assert 'missing span 01/02 "op" (\\x1b[31mevil.json[0])' in text
    assert text.endswith("NOT all read back")


def test_entries_loki_keeps_once_are_expected_once(
    tmp_path: Path, tempo_q: TempoWithQueries, loki_q: LokiWithQueries
) -> None:
    """Two records of one stream with the same time and line (their attributes differ):
    Loki keeps one entry, and that is what verify expects."""
    twins = [log_doc(sec=SEC, body="same", attributes={"n": str(i)}) for i in range(2)]
    log_file(tmp_path / "in" / "logs.json", [*twins, log_doc(sec=SEC + 1, body="other")])
    code, out, err = run("replay", str(tmp_path / "in"), "--logs-only", "--verify", *backends(tempo_q, loki_q))
    assert code == 0, (out, err)
    assert len(loki_q.entries()) == 2
    assert "logs    2 entries sent: 2 found" in out
    assert "note: 1 sent entries repeat another's stream, time and line" in out


def test_a_zip_and_an_otlp_json_lines_file_are_read_back(
    tmp_path: Path, tempo_q: TempoWithQueries, loki_q: LokiWithQueries
) -> None:
    """The example zipped as a bug report is, and OTLP/JSON Lines with every span and log
    field set (links, events, dropped counts, scopes): all of it read back."""
    bug = zip_archive(
        tmp_path / "bug.zip", {f"r/{p.relative_to(EXAMPLE)}": p.read_bytes() for p in EXAMPLE.rglob("*.json")}
    )
    lines = write_lines(tmp_path / "dump.jsonl", [trace_request(), logs_request()])
    for path in (bug, lines):
        code, out, err = run(
            "replay", str(path), "--signals", "traces,logs", "--verify", "--json", *backends(tempo_q, loki_q)
        )
        doc = json.loads(out)
        assert code == 0, (out, err)
        checks = doc["verify"]["signals"]
        assert checks["traces"]["found"] == doc["signals"]["traces"]["sent"] > 0, path
        assert checks["logs"]["found"] == doc["signals"]["logs"]["sent"] > 0, path


def test_an_emoji_in_a_stream_label_is_read_back(tmp_path: Path, loki_q: LokiWithQueries) -> None:
    path = log_file(tmp_path / "logs.json", [log_doc(sec=SEC, body="hi", resource={"service.name": "agent 😀"})])
    code, out, err = run("replay", str(path), "--signals", "logs", "--loki-url", loki_q.url, "--verify")
    assert code == 0, (out, err)
    assert "logs    1 entries sent: 1 found" in out
    assert any('service_name="agent 😀"' in q for q in loki_q.queries)  # not JSON's \ud83d\ude00


class _HeldTempo(TempoWithQueries):
    """Holds every question about a trace until ``release`` is set (or a minute passes)."""

    def __init__(self) -> None:
        super().__init__()
        self.asked, self.release = threading.Event(), threading.Event()

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> Answer:
        if method == "GET" and TRACE_PATH.match(path):
            self.asked.set()
            self.release.wait(60)
        return super().handle(method, path, headers, body)


@pytest.mark.parametrize("command", ["replay --verify", "verify"])
def test_a_ctrl_c_while_reading_back_stops_it_at_once_and_says_what_was_sent(
    tmp_path: Path, children: Children, command: str
) -> None:
    """Tempo holds every question: a Ctrl-C stops the read-back without waiting for the
    question asked (its answer would come in a minute), exit status 130. The replay's
    summary is still printed, the read-back's is null; nothing else is said but that."""
    state = str(tmp_path / "run.state")
    with _HeldTempo() as tempo:
        flags = ["--signals", "traces", "--otlp-endpoint", tempo.url, "--tempo-query-url", tempo.url, "--json"]
        flags += ["--timeout", "60", "--resume", state]
        if command == "verify":  # the run it checks: sent here first (the fake holds no export)
            code, out, err = run("replay", str(EXAMPLE), *flags)
            assert code == 0, (out, err)
        proc = children.start([sys.executable, "-m", "otel_replay", *command.split(), str(EXAMPLE), *flags])
        try:
            assert tempo.asked.wait(60)
            proc.send_signal(signal.SIGINT)
            out_b, err_b = proc.communicate(timeout=30)  # long before the held question is answered
        finally:
            tempo.release.set()
    out, err = out_b.decode(), err_b.decode()
    assert proc.returncode == 130, err
    assert "otel-replay: interrupted: nothing more is read back" in err.splitlines()
    assert all(line.startswith("otel-replay: ") for line in err.splitlines()), err  # no traceback, no "Aborted!"
    if command == "verify":
        assert out == ""
    else:
        doc = json.loads(out)
        assert doc["verify"] is None and doc["signals"]["traces"]["sent"] == len(tempo.spans()) > 0
