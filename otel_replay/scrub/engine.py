"""Apply scrub rules to records: a new record with what must not leave the machine removed.

Trace and span ids, times, structure, kinds, severity, metric definitions and numbers
stay as they are; attributes (span, event, link, log, resource, scope, data point),
strings at any depth (array and map members, log bodies, names, status messages) are
what the rules change. Counts per (rule, place) say what changed, never the values.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from otel_replay.model import (
    FrozenMap,
    LogRecord,
    Record,
    ResourceAttrs,
    SpanEvent,
    SpanRecord,
)
from otel_replay.scrub.rules import KeyRule, ReplaceRule, Rule

#: A hash token: ``‹label:8 hex digits›`` (rules never rewrite inside one).
TOKEN = re.compile(r"‹[^‹›]*›")
_CACHE_MAX = 65536
_CACHE_TEXT_MAX = 512  # longer strings (stack traces, bodies) are rarely repeated
_SCALARS = frozenset({int, float, bool, type(None), bytes})  # no string inside: no rule changes them


def salt_fingerprint(salt: bytes) -> str:
    """What identifies a salt without revealing it (for a manifest): 12 hex digits."""
    return hashlib.sha256(b"otel-replay scrub salt\0" + salt).hexdigest()[:12]


class Scrubber:
    """The rules, in order, with one salt. ``counts[(rule name, place)]``: how many values
    each rule changed where (``span[cli.boot.cwd]``, ``log.body``, ``span.name``…)."""

    def __init__(self, rules: Sequence[Rule], salt: bytes) -> None:
        self.rules = tuple(rules)
        self._salt = salt
        self.counts: Counter[tuple[str, str]] = Counter()
        self._key_rules = tuple(r for r in self.rules if isinstance(r, KeyRule))
        self._free = tuple(r for r in self.rules if isinstance(r, ReplaceRule) and r.keys is None)
        self._keyed = tuple(r for r in self.rules if isinstance(r, ReplaceRule) and r.keys is not None)
        self._any = _prefilter(self._free)
        self._texts: dict[str, tuple[str, tuple[str, ...]]] = {}
        self._by_place: dict[str, dict[str, tuple[str | None, Any, tuple[ReplaceRule, ...], str]]] = {}
        self._tokens: dict[tuple[str, str], str] = {}
        self._last: dict[str, tuple[ResourceAttrs, Any]] = {}
        self._resources: dict[tuple[str, ResourceAttrs], tuple[ResourceAttrs, Counter[tuple[str, str]]]] = {}

    @property
    def fingerprint(self) -> str:
        """The salt's fingerprint (for a manifest), never the salt."""
        return salt_fingerprint(self._salt)

    def __getstate__(self) -> dict[str, Any]:  # sent to worker processes without its caches
        return {"rules": self.rules, "salt": self._salt}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["rules"], state["salt"])  # type: ignore[misc]

    # -- records -----------------------------------------------------------------------
    def record(self, rec: Record) -> Record:
        """The record with the rules applied, in place: its own fields set to new maps and
        lists (the old ones, which may be shared, are not changed). Records belong to the
        pipeline, which hands each to one stage at a time (as the resource rewrite and the
        time shift do)."""
        text, attributes = self._text, self.attributes
        if type(rec) is SpanRecord:
            rec.name = text(rec.name, "span.name")
            if rec.status_message:
                rec.status_message = text(rec.status_message, "status.message")
            rec.attributes = attributes(rec.attributes, "span")
            if rec.events:
                rec.events = [self._event(e) for e in rec.events]
            if rec.links:
                rec.links = [replace(link, attributes=attributes(link.attributes, "link")) for link in rec.links]
        elif type(rec) is LogRecord:
            body = rec.body
            rec.body = text(body, "log.body") if type(body) is str else self._value(body, "log.body")
            rec.attributes = attributes(rec.attributes, "log")
            if rec.event_name:
                rec.event_name = text(rec.event_name, "log.event_name")
        else:
            rec.attributes = attributes(rec.attributes, "point")
            if rec.exemplars:
                rec.exemplars = [replace(e, attributes=attributes(e.attributes, "point")) for e in rec.exemplars]
        rec.resource = self.resource(rec.resource)
        if rec.scope is not None and rec.scope.attributes:
            rec.scope = replace(rec.scope, attributes=self.resource(rec.scope.attributes, "scope"))
        return rec

    def _event(self, ev: SpanEvent) -> SpanEvent:
        return replace(ev, name=self._text(ev.name, "event.name"), attributes=self.attributes(ev.attributes, "event"))

    def resource(self, attrs: ResourceAttrs, place: str = "resource") -> ResourceAttrs:
        """Frozen, sorted attributes (a resource's or a scope's), one result per distinct
        input (looked up by identity first: records of one file share their resource)."""
        last = self._last.get(place)
        if last is not None and last[0] is attrs:
            cached = last[1]
        else:
            cached = self._resources.get((place, attrs))
            if cached is None:
                cached = self._resource(attrs, place)
                if len(self._resources) < 4096:
                    self._resources[(place, attrs)] = cached
            self._last[place] = (attrs, cached)
        counts = self.counts
        for key, n in cached[1].items():
            counts[key] += n
        return cached[0]

    def _resource(self, attrs: ResourceAttrs, place: str) -> tuple[ResourceAttrs, Counter[tuple[str, str]]]:
        before = self.counts
        self.counts = Counter()
        try:
            return tuple(sorted(self.attributes(dict(attrs), place).items())), self.counts
        finally:
            self.counts = before

    # -- attributes --------------------------------------------------------------------
    def attributes(self, attrs: dict[str, Any], place: str) -> dict[str, Any]:
        """A new attribute map: key rules (delete, keep, hash), then replace rules, in order."""
        out: dict[str, Any] = {}
        plans = self._by_place.get(place)
        if plans is None:
            plans = self._by_place[place] = {}
        for key, value in attrs.items():
            plan = plans.get(key)
            if plan is None:
                if len(plans) >= _CACHE_MAX:
                    plans.clear()
                plan = plans[key] = self._plan(place, key)
            action, rule, keyed, where = plan
            if action is None and not keyed:
                kind = type(value)
                if kind is str:
                    value = self._text(value, where)
                elif kind not in _SCALARS:
                    value = self._value(value, where)
                out[key] = value
            elif action == "delete":
                self.counts[(rule.name, where)] += 1
            elif action == "hash":
                new = self._hash_value(value, rule.label)
                if new != value:
                    self.counts[(rule.name, where)] += 1
                out[key] = new
            else:
                for keyed_rule in keyed:
                    value = self._keyed_value(value, keyed_rule, where)
                out[key] = self._value(value, where)
        return out

    def _plan(self, place: str, key: str) -> tuple[str | None, Any, tuple[ReplaceRule, ...], str]:
        """What happens to the attribute ``key`` in ``place``: "delete" or "hash" and the
        key rule that decided it (the first that applies), or None; the keyed replace
        rules for its value; and how counts name it (``span[cli.boot.cwd]``)."""
        action: tuple[str | None, KeyRule | None] = (None, None)
        for rule in self._key_rules:
            if place not in rule.places:
                continue
            hit = rule.keys(key)
            if (rule.kind == "delete" and hit) or (rule.kind == "keep" and not hit):
                action = ("delete", rule)
                break
            if rule.kind == "hash" and hit:
                action = ("hash", rule)
                break
        keyed = tuple(r for r in self._keyed if place in r.places and r.keys is not None and r.keys(key))
        return (*action, keyed, f"{place}[{key}]")

    # -- values ------------------------------------------------------------------------
    def text(self, text: str, where: str) -> str:
        """A string that is not an attribute value (a name, a message) after the replace rules."""
        return self._text(text, where)

    def said(self, text: str) -> str:
        """What the run itself says (a problem line, a --verbose line) after the replace
        rules: it quotes values and names files. Not counted: it is not part of the data."""
        return self._text(text, None)

    def value(self, value: Any, where: str) -> Any:
        """A value that is not an attribute (a log body) after the replace rules, at any depth."""
        return self._value(value, where)

    def _value(self, value: Any, where: str) -> Any:
        """``value`` with the free replace rules applied to every string at any depth (map
        keys inside a value too)."""
        if isinstance(value, str):
            return self._text(value, where)
        return _walk(value, lambda text: self._text(text, where))

    def _keyed_value(self, value: Any, rule: ReplaceRule, where: str) -> Any:
        new = (
            _walk(value, lambda text: self._apply(rule, text))
            if not isinstance(value, str)
            else self._apply(rule, value)
        )
        if new != value:
            self.counts[(rule.name, where)] += 1
        return new

    def _text(self, text: str, where: str | None) -> str:
        """``text`` after the free replace rules (cached: the same strings recur)."""
        cached = self._texts.get(text)
        if cached is None:
            if self._any is not None and not self._any.search(text):
                cached = (text, ())
            else:
                new, hits = text, []
                for rule in self._free:
                    changed = self._apply(rule, new)
                    if changed != new:
                        hits.append(rule.name)
                        new = changed
                cached = (new, tuple(hits))
            if len(text) <= _CACHE_TEXT_MAX:
                if len(self._texts) >= _CACHE_MAX:
                    self._texts.clear()
                self._texts[text] = cached
        if where is not None:
            for name in cached[1]:
                self.counts[(name, where)] += 1
        return cached[0]

    def _apply(self, rule: ReplaceRule, text: str) -> str:
        """One rule on ``text``, never inside a hash token already made."""
        if "‹" not in text:
            return rule.pattern.sub(lambda m: self._replacement(rule, m), text)
        parts, last = [], 0
        for m in TOKEN.finditer(text):
            parts += [rule.pattern.sub(lambda m: self._replacement(rule, m), text[last : m.start()]), m.group()]
            last = m.end()
        parts.append(rule.pattern.sub(lambda m: self._replacement(rule, m), text[last:]))
        return "".join(parts)

    def _replacement(self, rule: ReplaceRule, m: re.Match[str]) -> str:
        if rule.hash_group is None:
            return m.expand(rule.replacement or "")
        g = rule.hash_group
        if m.start(g) < 0:
            return m.group()
        start, end = m.start(g) - m.start(), m.end(g) - m.start()
        whole = m.group()
        return whole[:start] + self.token(m.group(g), rule.label) + whole[end:]

    def token(self, value: str, label: str) -> str:
        """``‹label:hex›``: HMAC-SHA256 of ``value`` keyed by the salt (8 hex digits shown)."""
        made = self._tokens.get((value, label))
        if made is None:
            digest = hmac.digest(self._salt, value.encode("utf-8", "surrogatepass"), "sha256")
            made = f"‹{label}:{digest[:4].hex()}›"
            if len(value) <= _CACHE_TEXT_MAX:
                if len(self._tokens) >= _CACHE_MAX:
                    self._tokens.clear()
                self._tokens[(value, label)] = made
        return made

    def _hash_value(self, value: Any, label: str) -> Any:
        """Every string and number in ``value`` (at any depth) → a token; booleans and nulls stay."""
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, (str, int, float)):
            return self.token(str(value), label)
        return _walk(value, lambda text: self.token(text, label), numbers=lambda n: self.token(str(n), label))


def _walk(value: Any, text: Callable[[str], str], numbers: Callable[[Any], Any] | None = None) -> Any:
    """``value`` rebuilt with ``text`` applied to every string (map keys too, except when
    hashing) and ``numbers`` to every number, at any depth; the containers keep their type."""
    if isinstance(value, str):
        return text(value)
    if isinstance(value, FrozenMap):
        key = (lambda k: k) if numbers is not None else text
        return FrozenMap(sorted((key(k), _walk(v, text, numbers)) for k, v in value))
    if isinstance(value, dict):
        key = (lambda k: k) if numbers is not None else text
        return {key(k): _walk(v, text, numbers) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_walk(v, text, numbers) for v in value)
    if numbers is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
        return numbers(value)
    return value


def _prefilter(rules: Sequence[ReplaceRule]) -> re.Pattern[str] | None:
    """One regex that finds any of the rules' matches (a string none can change is passed
    over in one search); None when the patterns cannot be joined."""
    if not rules:
        return re.compile(r"(?!)")
    parts = []
    for rule in rules:
        if re.search(r"\\\d|\(\?P=", rule.pattern.pattern):  # a back-reference: numbering would shift
            return None
        body = re.sub(r"\(\?P<[^>]+>", "(?:", rule.pattern.pattern)
        flags = "i" if rule.pattern.flags & re.IGNORECASE else ""
        parts.append(f"(?{flags}:{body})" if flags else f"(?:{body})")
    try:
        return re.compile("|".join(parts))
    except re.error:
        return None
