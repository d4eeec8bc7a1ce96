"""The README tells the truth a newcomer relies on: its "I got a bug report" command, run as
written (against the loopback fakes instead of the compose stack), prints the summary the
README shows; and its links and the docs' links lead somewhere."""

from __future__ import annotations

import re
import shlex
import zipfile
from pathlib import Path

import pytest

from tests.fakes.loki import LokiReceiver
from tests.fakes.otlp import OtlpReceiver
from tests.helpers import EXAMPLE, FAKES_SHOW_EVERY_AGE, ROOT, Children, replay_command

README = ROOT / "README.md"
#: Written on other branches of the same issue; checked once they exist.
PENDING = {"docs/cli.md", "docs/testing.md"}


def walkthrough() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("## I got a bug report")
    return text[start : text.index("\n## ", start + 1)]


def code_blocks(text: str) -> list[str]:
    return re.findall(r"```[a-z]*\n(.*?)```", text, re.DOTALL)


def send_command() -> list[str]:
    (command,) = [b for b in code_blocks(walkthrough()) if b.startswith("otel-replay replay")]
    return shlex.split(command.replace("\\\n", " "))


def test_the_send_command_moves_the_recording_to_now() -> None:
    """Loki refuses entries older than 7 days: a bug report is always older than its replay.
    The README's command moves it to now (by default, docs/time.md, or with --shift-to-now)."""
    command = send_command()
    assert "--keep-times" not in command and "--time-offset" not in command


def test_the_send_command_prints_the_summary_the_readme_shows(
    tmp_path: Path, children: Children, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run as written, with the compose stack's addresses pointing at the fakes (Tempo, Loki
    and a metrics receiver), on examples/codemachine zipped as a bug report is; as a user
    runs it, with the time windows of real backends (docs/time.md)."""
    for name in FAKES_SHOW_EVERY_AGE:
        monkeypatch.delenv(name)
    bug_report = tmp_path / "bug-report.zip"
    with zipfile.ZipFile(bug_report, "w") as archive:
        for path in sorted(EXAMPLE.rglob("*.json")):
            archive.write(path, f"traces/{path.relative_to(EXAMPLE)}")
    argv = send_command()
    assert argv[:3] == ["otel-replay", "replay", "bug-report.zip"]
    with OtlpReceiver.tempo() as tempo, LokiReceiver() as loki, OtlpReceiver() as metrics:
        stack = {  # the README's address → the fake standing in for it
            "http://localhost:9090/api/v1/otlp/v1/metrics": f"{metrics.url}/v1/metrics",
            "http://localhost:4318": tempo.url,
            "http://localhost:3100": loki.url,
        }
        args = [stack.get(a, a) for a in argv[3:]]
        assert not [a for a in args if "localhost" in a], args
        done = children.run(replay_command(str(bug_report), *args))
    assert done.returncode == 0, done.stderr.decode()
    printed = done.stdout.decode()
    for readme_url, fake_url in stack.items():
        printed = re.sub(re.escape(fake_url) + r"(?=[/\s]|$)", readme_url, printed, flags=re.MULTILINE)
    (shown,) = [b for b in code_blocks(walkthrough()) if b.startswith("otel-replay: ")]
    assert summary_lines(printed) == summary_lines(shown)


def summary_lines(summary: str) -> list[str]:
    """The summary's lines less the shift (it depends on today's date) and the replay id (new
    each run), hints in any order."""
    dated = ("  timestamps moved by", "  times   ", "  replay id ")
    return sorted(
        re.sub(r", times moved by [^,]*$", "", line) for line in summary.splitlines() if not line.startswith(dated)
    )


def test_the_walkthrough_shows_the_way_to_grafana_and_back() -> None:
    text = walkthrough()
    for step in ("make up", "http://localhost:3000", "Logs for this span", "View trace", "Metrics for this span"):
        assert step in text or step in README.read_text(encoding="utf-8")[:3000], step


def links(path: Path) -> list[tuple[str, str]]:
    """(target file relative to the repository, anchor) of each relative Markdown link."""
    found = []
    for target in re.findall(r"\]\(([^)\s]+)\)", path.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        resolved = (path.parent / file).resolve() if file else path.resolve()
        found.append((resolved.relative_to(ROOT).as_posix(), anchor))
    return found


def anchors(path: Path) -> set[str]:
    """GitHub's heading ids: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)
    heads = re.findall(r"^#+ (.+)$", text, re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in heads}


DOCS = ["README.md", *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("doc", DOCS)
def test_every_link_leads_somewhere(doc: str) -> None:
    for target, anchor in links(ROOT / doc):
        if target in PENDING and not (ROOT / target).exists():
            continue
        assert (ROOT / target).exists(), f"{doc}: {target} does not exist"
        if anchor and target.endswith(".md"):
            assert anchor in anchors(ROOT / target), f"{doc}: {target}#{anchor}: no such heading"
