"""Scrub rules: what they are, and reading them from a TOML rules file (docs/scrub.md).

Modelled on the OpenTelemetry Collector's redaction and attributes processors and OTTL's
``replace_pattern``. Four kinds, applied in the order they are given:

- ``delete``: attributes whose key matches (exact, glob or regex) are removed;
- ``keep``: an allow-list: attributes whose key does not match are removed;
- ``hash``: the value of attributes whose key matches becomes ``‹label:hex›`` (HMAC-SHA256
  keyed by the salt: equal values give equal tokens);
- ``replace``: the matches of a regex in every string at any depth are replaced by a text
  or by a hash token (of the whole match or of one group, the rest of the match kept).

Pure: parsing a file's text gives rules or a :class:`RulesError` naming the file and line.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from typing import Any

import tomllib

#: Where attributes live: span, span event, span link, log record, resource, instrumentation
#: scope, metric data point (and its exemplars); ``file``: the fields of a CodeMachine file
#: that no record carries (``sessionFile``), which only ``otel-replay scrub`` writes.
PLACES = ("span", "event", "link", "log", "resource", "scope", "point", "file")
ALL_PLACES = frozenset(PLACES)


class RulesError(ValueError):
    """A rules file is wrong; the message names the file and line (one line)."""


@dataclass(frozen=True)
class KeyMatch:
    """Attribute keys: exact names, globs (``*``, ``?``, ``[…]``) and regexes (searched)."""

    exact: frozenset[str] = frozenset()
    globs: tuple[str, ...] = ()
    regexes: tuple[re.Pattern[str], ...] = ()

    def __call__(self, key: str) -> bool:
        if key in self.exact:
            return True
        if any(fnmatch.fnmatchcase(key, g) for g in self.globs):
            return True
        return any(r.search(key) for r in self.regexes)

    @property
    def empty(self) -> bool:
        return not (self.exact or self.globs or self.regexes)


@dataclass(frozen=True)
class KeyRule:
    """A ``delete``, ``keep`` or ``hash`` rule: acts on attributes by key, in ``places``."""

    kind: str  # "delete", "keep" or "hash"
    name: str
    keys: KeyMatch
    places: frozenset[str] = ALL_PLACES
    label: str = "hash"  # hash: the token's label


@dataclass(frozen=True)
class ReplaceRule:
    """Every match of ``pattern`` → ``replacement`` (``\\1``/``\\g<name>`` expanded), or, with
    ``hash_group`` set, the group (0: the whole match) → a hash token. With ``keys``, only the
    values of those attributes (in ``places``); without, every string."""

    name: str
    pattern: re.Pattern[str]
    replacement: str | None = None
    hash_group: int | str | None = None
    label: str = "hash"
    keys: KeyMatch | None = None
    places: frozenset[str] = ALL_PLACES


Rule = KeyRule | ReplaceRule

_KEY_FIELDS = {"name", "keys", "regex", "in"}
_FIELDS = {
    "delete": _KEY_FIELDS,
    "keep": _KEY_FIELDS,
    "hash": _KEY_FIELDS | {"label"},
    "replace": _KEY_FIELDS | {"pattern", "ignore_case", "replacement", "hash", "label"},
}


def parse_rules(text: str, source: str, prefix: str = "") -> list[Rule]:
    """The rules of a rules file's ``text`` (``source`` names it in errors; ``prefix`` starts
    each rule's default name). :class:`RulesError` for bad TOML, an unknown rule or field,
    a wrong type, a bad regex."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{source}: not valid TOML: {exc}") from None
    rules: list[Rule] = []
    for kind, tables in doc.items():
        if kind not in _FIELDS:
            line = _line_of(text, kind, 0)
            raise RulesError(f"{source}:{line}: unknown rule {kind!r} (rules: {', '.join(_FIELDS)})")
        for n, table in enumerate(tables if isinstance(tables, list) else [tables]):
            where = f"{source}:{_line_of(text, kind, n)}"
            if not isinstance(table, dict):
                raise RulesError(f"{where}: {kind} must be a table ([[{kind}]])")
            rules.append(_rule(kind, table, where, prefix, f"{kind}[{n + 1}]"))
    return rules


def _line_of(text: str, kind: str, n: int) -> int:
    """The line of the ``n``-th ``[[kind]]`` (or ``[kind]``) header, else of ``kind =``."""
    headers = [m.start() for m in re.finditer(rf"(?m)^[ \t]*\[\[?[ \t]*{re.escape(kind)}[ \t]*\]\]?", text)]
    if n < len(headers):
        return text.count("\n", 0, headers[n]) + 1
    m = re.search(rf"(?m)^[ \t]*\"?{re.escape(kind)}\"?[ \t]*=", text)
    return text.count("\n", 0, m.start()) + 1 if m else 1


def _rule(kind: str, table: dict[str, Any], where: str, prefix: str, default_name: str) -> Rule:
    unknown = sorted(set(table) - _FIELDS[kind])
    if unknown:
        raise RulesError(f"{where}: {kind}: unknown field {unknown[0]!r} (fields: {', '.join(sorted(_FIELDS[kind]))})")
    name = prefix + (_typed(table, "name", str, where, kind) or default_name)
    keys = _keys(table, where, kind)
    places = _places(table, where, kind)
    label = _typed(table, "label", str, where, kind) or "hash"
    if kind != "replace":
        if keys is None:
            raise RulesError(f"{where}: {kind}: give keys or regex (the attribute keys it acts on)")
        return KeyRule(kind, name, keys, places, label)
    pattern_text = _typed(table, "pattern", str, where, kind)
    if not pattern_text:
        raise RulesError(f"{where}: replace: pattern is required")
    flags = re.IGNORECASE if _typed(table, "ignore_case", bool, where, kind) else 0
    pattern = _compile(pattern_text, flags, where, "pattern")
    replacement = _typed(table, "replacement", str, where, kind)
    group = table.get("hash")
    if (replacement is None) == (group is None):
        raise RulesError(f"{where}: replace: give exactly one of replacement or hash")
    if group is not None:
        group = _hash_group(group, pattern, where)
    else:
        _check_template(pattern, replacement or "", where)
    return ReplaceRule(name, pattern, replacement, group, label, keys, places)


def _typed(table: dict[str, Any], field: str, want: type, where: str, kind: str) -> Any:
    value = table.get(field)
    if value is not None and not isinstance(value, want):
        raise RulesError(f"{where}: {kind}: {field} must be a {_TYPE_NAMES[want]}, not {_type_name(value)}")
    return value


_TYPE_NAMES = {str: "string", bool: "boolean (true or false)", list: "list of strings"}


def _type_name(value: Any) -> str:
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a table",
    }.get(type(value), type(value).__name__)


def _strings(table: dict[str, Any], field: str, where: str, kind: str) -> list[str]:
    value = table.get(field, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RulesError(f"{where}: {kind}: {field} must be a list of strings")
    return value


def _keys(table: dict[str, Any], where: str, kind: str) -> KeyMatch | None:
    names = _strings(table, "keys", where, kind)
    regexes = tuple(_compile(r, 0, where, "regex") for r in _strings(table, "regex", where, kind))
    globs = tuple(k for k in names if any(c in k for c in "*?["))
    match = KeyMatch(frozenset(k for k in names if k not in globs), globs, regexes)
    return None if match.empty else match


def _places(table: dict[str, Any], where: str, kind: str) -> frozenset[str]:
    places = _strings(table, "in", where, kind) if "in" in table else list(PLACES)
    wrong = [p for p in places if p not in ALL_PLACES]
    if wrong or not places:
        raise RulesError(f"{where}: {kind}: in: {wrong[0] if wrong else '[]'!r} is not one of {', '.join(PLACES)}")
    return frozenset(places)


def _compile(text: str, flags: int, where: str, field: str) -> re.Pattern[str]:
    try:
        return re.compile(text, flags)
    except re.error as exc:
        raise RulesError(f"{where}: bad {field} {text!r}: {exc}") from None


def _hash_group(group: Any, pattern: re.Pattern[str], where: str) -> int | str:
    if isinstance(group, bool) or not isinstance(group, (int, str)):
        raise RulesError(f"{where}: replace: hash must be a group name or number (0: the whole match)")
    known = isinstance(group, str) and group in pattern.groupindex
    if not known and not (isinstance(group, int) and 0 <= group <= pattern.groups):
        raise RulesError(f"{where}: replace: hash: the pattern has no group {group!r}")
    return group


def _check_template(pattern: re.Pattern[str], replacement: str, where: str) -> None:
    """Expand ``replacement`` against a match with every group of ``pattern`` (empty), so a
    reference to a missing group or a bad escape fails now, not at the first match."""
    names = {index: name for name, index in pattern.groupindex.items()}
    shape = "".join(f"(?P<{names[i]}>)" if i in names else "()" for i in range(1, pattern.groups + 1))
    match = re.compile(shape).match("")
    assert match is not None
    try:
        match.expand(replacement)
    except (re.error, IndexError) as exc:
        raise RulesError(f"{where}: replace: bad replacement {replacement!r}: {exc}") from None
