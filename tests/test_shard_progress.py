"""A shard's progress line, as a person sees it on a terminal: the inputs' total is not
sized up front (the share is only known as discovery goes), so the line says what was
read and sent, with no percentage of all the PATHs hold."""

from __future__ import annotations

from pathlib import Path

from tests.fakes.loki import LokiReceiver
from tests.helpers import assert_each_once, line_counts, replay_command
from tests.test_progress_terminal import HeldLoki, Terminal, _inputs


def test_a_shards_progress_line_has_no_percentage_of_every_input(tmp_path: Path, loki: LokiReceiver) -> None:
    held = HeldLoki(loki)
    folder = _inputs(tmp_path / "in")
    # share 1 of 3 holds 50-logs.json (20 records), share 2 the other file
    command = replay_command(str(folder), "--logs-only", "--loki-url", loki.url, "--shard", "1/3", "--workers", "1")
    term = Terminal([*command, "--timeout", "60s"])
    try:
        rows = term.wait_for("the progress line", lambda r: any("sent 0/20" in x for x in r))
        line = next(r for r in rows if "sent 0/20" in r)
        assert "%" not in line and "[#" not in line, line
        assert "KiB" in line, line
        held.open()
        status = term.wait_end()
        rows = term.rows()
    finally:
        held.open()
        term.close()
    assert status == 0, "\n".join(rows)
    assert any("shard 1/3: this run's share of the inputs" in r for r in rows), rows
    assert_each_once(line_counts(loki), 20)
