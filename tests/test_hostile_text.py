"""Values from the input reach the terminal as text: the replay's summary, its problem
lines and its --verbose lines show escape codes, bells and bidirectional overrides as
visible escapes (a file name or a span id chosen to clear the screen or retitle the
terminal does neither), in a real pseudo-terminal as a person sees it."""

from __future__ import annotations

from pathlib import Path

from otel_replay.visible import visible
from tests.helpers import run_in_pty, span_doc, trace_file

#: Sets the window title, rings the bell, clears the screen, and a C1 CSI.
HOSTILE = "\x1b]0;pwned\x07\x1b[2J\x9b31m\u202e"
SHOWN = "\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m\\u202e"


def test_visible_escapes_controls_and_keeps_text() -> None:
    assert visible(HOSTILE) == SHOWN
    assert visible("plain é ✓") == "plain é ✓"
    assert visible("two\nlines") == "two\\x0alines"
    assert visible({"a": 1}) == '{"a":1}'


def test_a_hostile_file_name_and_value_show_as_text_on_a_terminal(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    trace_file(folder / f"bad{HOSTILE}.json", [span_doc(spanId=HOSTILE)])  # an invalid span id, quoted
    trace_file(folder / "good.json", [span_doc()])
    code, out = run_in_pty("replay", str(folder), "--dry-run", "-v")
    assert code == 1  # the invalid span is a problem
    assert "\x1b]" not in out and "\x07" not in out and "\x1b[2J" not in out and "\x9b" not in out
    assert "\u202e" not in out
    problem = next(line for line in out.splitlines() if "invalid span" in line)
    assert f"bad{SHOWN}.json" in problem  # the file's name, as text
