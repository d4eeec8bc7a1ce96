"""``otel-replay view``: the command (inputs as replay reads them, exit status, bad
output paths) and the page it writes, rendered in a real headless Chromium (Debian's
``chromium``, driven by Playwright): what a person sees and clicks, that it makes no
request, and that hostile values stay text. Without Chromium the browser tests skip."""

from __future__ import annotations

import json
import re
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner, Result

from otel_replay.cli import main
from tests.helpers import EXAMPLE, log_doc, log_file, span_doc, trace_file, zip_archive
from tests.otlp_samples import logs_request, trace_request, write_lines

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def view(*args: str, input: bytes | None = None) -> Result:
    return CliRunner().invoke(main, ["view", *args], input=input, catch_exceptions=False)


def page_data(path: Path) -> dict[str, Any]:
    html = path.read_text(encoding="utf-8")
    block = re.search(r'<script type="application/json" id="data">(.*?)</script>', html, re.S)
    assert block is not None
    return json.loads(block.group(1))


# -- the command --------------------------------------------------------------------------
def test_example_folder_gives_its_traces_logs_and_metrics_without_the_latest_copies(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = view(str(EXAMPLE), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith(f"wrote {out}: 2 traces, 21 spans, 44 log records, ")
    doc = page_data(out)
    assert [t["root"] for t in doc["traces"]] == ["cli.boot", "workflow.run"]
    assert [t["errors"] for t in doc["traces"]] == [4, 0]
    assert len({(s["id"]) for t in doc["traces"] for s in t["spans"]}) == 21  # latest.json's copies are gone


def test_zip_and_otlp_json_lines_are_read_as_replay_reads_them(tmp_path: Path) -> None:
    archive = zip_archive(tmp_path / "report.zip", {p.name: p.read_bytes() for p in (EXAMPLE / "2026-11-24").iterdir()})
    assert view(str(archive), "-o", str(tmp_path / "z.html")).exit_code == 0
    assert len(page_data(tmp_path / "z.html")["traces"]) == 2
    lines = write_lines(tmp_path / "all.jsonl", [trace_request(), logs_request()])
    assert view(str(lines), "-o", str(tmp_path / "o.html")).exit_code == 0
    doc = page_data(tmp_path / "o.html")
    assert doc["counts"]["spans"] == sum(len(t["spans"]) for t in doc["traces"]) > 0
    assert doc["counts"]["logs"] > 0


def test_filters_and_stdout(tmp_path: Path) -> None:
    spans = [span_doc(span_id="00000000000000a1", name="keep"), span_doc("1" * 32, "00000000000000a2", name="drop")]
    path = trace_file(tmp_path / "t.json", spans)
    result = view(str(path), "--trace-id", "0af7651916cd43dd8448eb211c80319c", "-o", "-")
    assert result.exit_code == 0
    assert result.stdout.startswith("<!DOCTYPE html>") and "wrote stdout: 1 traces" in result.stderr


def test_problems_are_listed_in_the_page_and_exit_1(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text("{not json")
    trace_file(tmp_path / "t.json", [span_doc()])
    out = tmp_path / "r.html"
    result = view(str(tmp_path), "-o", str(out))
    assert result.exit_code == 1
    doc = page_data(out)
    assert doc["problemCount"] == 1 and "broken.json" in doc["problems"][0]
    assert "broken.json" in result.stderr and len(doc["traces"]) == 1


def test_an_output_that_cannot_be_written_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = view(str(EXAMPLE), "-o", str(tmp_path / "no" / "such" / "r.html"))
    assert result.exit_code == 2
    assert "cannot write" in result.stderr and "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_output_is_required() -> None:
    result = view(str(EXAMPLE))
    assert result.exit_code == 2 and "-o" in result.stderr


# -- in a real browser --------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        pytest.skip("no chromium on PATH (apt-get install chromium): the page is not rendered")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')"
    )
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


class Opened:
    """A page loaded from a file, with every request it made and every script error."""

    def __init__(self, browser: Any, path: Path, fragment: str = "") -> None:
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page = browser.new_page(viewport={"width": 1400, "height": 900})
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(path.as_uri() + fragment)
        self.page.wait_for_selector("body[data-ready='1']")

    def text(self, selector: str) -> str:
        return self.page.locator(selector).first.text_content() or ""

    def texts(self, selector: str) -> list[str]:
        return self.page.locator(selector).all_text_contents()


@pytest.fixture
def example_page(browser: Any, tmp_path: Path) -> Iterator[Opened]:
    out = tmp_path / "report.html"
    assert view(str(EXAMPLE), "-o", str(out)).exit_code == 0
    opened = Opened(browser, out)
    yield opened
    opened.page.close()
    assert opened.errors == []
    assert opened.requests == [out.as_uri()]  # the page itself, nothing else


def test_the_trace_list_and_the_first_waterfall(example_page: Opened) -> None:
    assert example_page.text("#error-count") == "4"
    assert example_page.texts("#trace-list .c-root") == ["cli.boot", "workflow.run"]
    assert example_page.texts("#trace-list .row.error .c-root") == ["cli.boot"]
    names = example_page.texts("#waterfall .row .nm")
    assert names[:3] == ["cli.boot", "cli.boot.version", "workflow.run"] and "engine.claude.invoke" in names
    assert "CLI invoked with args" in example_page.text("#span-logs")


def test_clicking_an_error_span_shows_its_exception_and_its_logs(example_page: Opened) -> None:
    page = example_page.page
    page.locator("#waterfall .row.span", has=page.locator(".bar-span.error")).last.click()
    detail = example_page.text("#span-detail")
    assert "status error" in detail
    assert example_page.text("#span-detail .exception-message") == (
        "EngineError: claude exited with code 1: rate limited (429)"
    )
    assert example_page.text("#span-detail pre.stack").splitlines()[1].strip().startswith("at <anonymous>")
    assert "of this span" in example_page.text("#span-logs h3")


def test_sort_search_and_collapse(example_page: Opened) -> None:
    page = example_page.page
    page.click("#trace-head [data-key='spans']")  # most spans first
    assert example_page.texts("#trace-list .c-spans") == ["16", "5"]
    page.click("#trace-head [data-key='spans']")
    assert example_page.texts("#trace-list .c-spans") == ["5", "16"]
    page.fill("#trace-search", "codex")  # a span name inside cli.boot only
    assert example_page.texts("#trace-list .c-root") == ["cli.boot"]
    before = page.locator("#waterfall .row.span").count()
    page.locator("#waterfall .row.span").first.locator(".toggle").click()
    assert page.locator("#waterfall .row.span").count() == 1 < before


def test_the_log_view_filters_by_severity_and_text_and_links_to_the_span(example_page: Opened) -> None:
    page = example_page.page
    page.click("#tabs [data-tab='logs']")
    total = int(example_page.text("#log-count").split()[0])
    page.select_option("#log-severity", "17")
    errors = example_page.texts("#log-list .l-sev")
    assert errors and set(errors) <= {"ERROR", "FATAL"} and len(errors) < total
    page.select_option("#log-severity", "0")
    page.fill("#log-search", "Invoking codex")
    assert example_page.texts("#log-list .l-body") == ["Invoking codex for step 1"]
    page.locator("#log-list .row").first.click()
    assert example_page.text("#log-detail .log-body") == "Invoking codex for step 1"
    page.click("#log-detail .span-link")
    assert page.locator("#tab-traces").is_visible()
    assert example_page.text("#span-detail .span-name") != ""
    assert "Invoking codex for step 1" in example_page.text("#span-logs")


def test_metrics_draw_one_chart_per_series(example_page: Opened) -> None:
    page = example_page.page
    page.click("#tabs [data-tab='metrics']")
    assert page.locator(".metric").count() > 0
    assert page.locator(".chart svg polyline, .chart svg circle").count() > 0
    assert page.locator(".chart").count() == page.locator(".chart svg").count()


class Counting(BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        Counting.hits.append(self.path)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def listener() -> Iterator[str]:
    Counting.hits = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Counting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_hostile_values_stay_text_and_nothing_is_fetched(browser: Any, tmp_path: Path, listener: str) -> None:
    name = f'<img src="{listener}/img" onerror="window.__pwned=1">'
    attr = f"</script><script>window.__pwned=2</script><link rel=stylesheet href={listener}/css>"
    spans = [span_doc(name=name, attributes={"evil": attr, "u": "\u2028\u2029<!--"}, status={"code": 2})]
    trace_file(tmp_path / "in" / "t.json", spans)
    log_file(tmp_path / "in" / "l.json", [log_doc(body=f"<script src={listener}/js></script>\u2028done")])
    out = tmp_path / "r.html"
    assert view(str(tmp_path / "in"), "-o", str(out)).exit_code == 0
    opened = Opened(browser, out)
    page = opened.page
    assert page.evaluate("window.__pwned") is None
    assert opened.texts("#trace-list .c-root") == [name]
    page.locator("#waterfall .row.span").first.click()
    assert attr in opened.text("#span-detail")
    page.click("#tabs [data-tab='logs']")
    assert opened.texts("#log-list .l-body") == [f"<script src={listener}/js></script>\u2028done"]
    assert page.locator("img, link, iframe, body script:not(#data)").count() == 1  # the page's own script
    blocked = page.evaluate(f"fetch('{listener}/fetch').then(() => 'fetched', () => 'blocked')")
    assert blocked == "blocked"  # the Content-Security-Policy refuses even a script's own request
    assert opened.errors == [] and page.evaluate("window.__pwned") is None
    assert opened.requests == [out.as_uri()]
    assert Counting.hits == []


def test_twenty_thousand_spans_render_lazily(browser: Any, tmp_path: Path) -> None:
    root = span_doc(span_id=f"{1:016x}", name="root", startTime=1795539600000, endTime=1795539700000.0)
    children = [
        span_doc(
            span_id=f"{i + 2:016x}",
            parentSpanId=f"{1:016x}",
            name=f"child-{i}",
            startTime=1795539600000 + i * 4,
            endTime=1795539600000 + i * 4 + 3.5,
            duration=3.5,
        )
        for i in range(20_000)
    ]
    out = tmp_path / "big.html"
    assert view(str(trace_file(tmp_path / "big.json", [root, *children])), "-o", str(out)).exit_code == 0
    opened = Opened(browser, out)
    page = opened.page
    assert opened.text("#trace-list .c-spans") == "20001"
    assert page.locator("#waterfall .row").count() < 200  # only the rows in view exist
    page.locator("#waterfall").evaluate("box => { box.scrollTop = box.scrollHeight; }")
    page.wait_for_selector("#waterfall .row.span:has-text('child-19999')")
    assert page.locator("#waterfall .row").count() < 200
    assert opened.errors == []


def test_a_link_to_a_span_opens_it(browser: Any, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    assert view(str(EXAMPLE), "-o", str(out)).exit_code == 0
    opened = Opened(browser, Path(out), "#trace=db5b5fab&span=bd299753")
    assert opened.text("#span-detail .span-name") == "engine.claude.invoke"
    assert "rate limited (429)" in opened.text("#span-detail .exception-message")
    assert opened.texts("#waterfall .row.sel .nm") == ["engine.claude.invoke"]
    assert opened.errors == []


def test_exclude_skips_files_as_replay_does(tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    assert view(str(EXAMPLE), "--exclude", "*-logs.json", "--exclude", "latest*", "-o", str(out)).exit_code == 0
    doc = page_data(out)
    assert doc["counts"]["logs"] == 0 and doc["counts"]["spans"] == 21


def test_a_report_without_traces_says_so_and_still_shows_its_logs(browser: Any, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    assert view(str(EXAMPLE), "--signals", "logs", "-o", str(out)).exit_code == 0
    opened = Opened(browser, out)
    assert opened.text("#trace-title") == "No traces in this report."
    assert opened.text("#error-count") == "0"
    opened.page.click("#tabs [data-tab='logs']")
    assert opened.text("#log-count") == "44 of 44 log records"
    opened.page.click("#tabs [data-tab='metrics']")
    assert opened.text("#metric-count") == "0 of 0 metrics"
    assert opened.errors == []
