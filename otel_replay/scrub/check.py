"""``--scrub-check``: what the rules would change, per rule and per key, never a value."""

from __future__ import annotations

from typing import Any

from otel_replay.scrub.engine import Scrubber
from otel_replay.scrub.rules import KeyRule
from otel_replay.visible import visible


def _kind(rule: object) -> str:
    return rule.kind if isinstance(rule, KeyRule) else "replace"


def check_dict(scrubber: Scrubber) -> dict[str, Any]:
    """Per rule, in order: its kind and, per place (``span[cli.boot.cwd]``, ``log.body``),
    how many values it changed (deleted, hashed or rewritten)."""
    rules = []
    for rule in scrubber.rules:
        changes = {where: n for (name, where), n in sorted(scrubber.counts.items()) if name == rule.name}
        rules.append({"rule": rule.name, "kind": _kind(rule), "values": sum(changes.values()), "keys": changes})
    return {"scrub_check": rules}


def check_lines(scrubber: Scrubber) -> list[str]:
    """The text ``--scrub-check`` prints: each rule that changes something with its keys,
    then the rules that change nothing."""
    lines = ["--scrub-check: what --scrub would change (values are never shown); nothing was sent"]
    idle = []
    for rule in check_dict(scrubber)["scrub_check"]:
        if not rule["values"]:
            idle.append(rule["rule"])
            continue
        lines.append(f"  {rule['rule']} ({rule['kind']}): {rule['values']} value(s)")
        lines += [f"      {visible(where)}: {n}" for where, n in rule["keys"].items()]  # keys from input
    if idle:
        lines.append(f"  no change: {', '.join(idle)}")
    return lines
