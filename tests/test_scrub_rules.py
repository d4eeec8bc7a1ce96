"""The scrub rules engine, pure: rules files, each kind of rule, every place a string can
be, what must stay as it is, and the hash tokens (otel_replay/scrub/, docs/scrub.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from otel_replay.model import (
    Exemplar,
    FrozenMap,
    LogRecord,
    Metric,
    MetricKind,
    MetricPoint,
    Origin,
    Scope,
    SpanEvent,
    SpanLink,
    SpanRecord,
    freeze,
)
from otel_replay.scrub.engine import Scrubber, salt_fingerprint
from otel_replay.scrub.presets import PRESETS, build_scrubber, load
from otel_replay.scrub.rules import RulesError, parse_rules

ORIGIN = Origin("f.json", 0)
ROOT = Path(__file__).resolve().parent.parent


def scrubber(text: str, salt: bytes = b"salt") -> Scrubber:
    return Scrubber(parse_rules(text, "rules.toml"), salt)


def span(**kw: object) -> SpanRecord:
    fields: dict[str, object] = dict(
        trace_id=0xABC,
        span_id=0xDEF,
        parent_span_id=0x123,
        name="op",
        kind=1,
        start_ns=10,
        end_ns=20,
        status_code=2,
        status_message=None,
        attributes={},
        events=[],
        resource=(("service.name", "svc"),),
        origin=ORIGIN,
    )
    fields.update(kw)
    return SpanRecord(**fields)  # type: ignore[arg-type]


def log(**kw: object) -> LogRecord:
    fields: dict[str, object] = dict(
        time_ns=5,
        severity_number=17,
        severity_text="ERROR",
        body="b",
        attributes={},
        trace_id=0xABC,
        span_id=0xDEF,
        resource=(),
        origin=ORIGIN,
    )
    fields.update(kw)
    return LogRecord(**fields)  # type: ignore[arg-type]


SECRET = "s3cr3t-value"
REPLACE_SECRET = f"""
[[replace]]
pattern = '{SECRET}'
replacement = 'X'
"""


# -- rules files -------------------------------------------------------------------------------
def test_every_preset_parses_and_names_its_rules() -> None:
    for name in PRESETS:
        rules = load(name)
        assert rules and all(r.name.startswith(f"{name}/") for r in rules)


def test_the_documented_example_uses_every_kind_of_rule_and_parses() -> None:
    text = (ROOT / "docs" / "scrub-example.toml").read_text(encoding="utf-8")
    rules = parse_rules(text, "scrub-example.toml")
    kinds = {getattr(r, "kind", "replace") for r in rules}
    assert kinds == {"delete", "keep", "hash", "replace"}
    assert any(getattr(r, "hash_group", None) is not None for r in rules)  # a replace that hashes
    assert any(getattr(r, "keys", None) is not None and getattr(r, "kind", "replace") == "replace" for r in rules)


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("\n\n[[replace]]\npattern = '('\nreplacement = 'x'\n", 3, "bad pattern '('"),
        ("# c\n[[redact]]\nkeys = ['a']\n", 2, "unknown rule 'redact'"),
        ("[[delete]]\nkeys = ['a']\n\n[[delete]]\nkeys = 3\n", 4, "keys must be a list of strings"),
        ("[[hash]]\nkeys = ['a']\nlabel = 7\n", 1, "label must be a string, not a number"),
        ("[[replace]]\npattern = 'a'\n", 1, "give exactly one of replacement or hash"),
        ("[[replace]]\npattern = 'a'\nhash = 'user'\n", 1, "the pattern has no group 'user'"),
        ("[[replace]]\npattern = 'a'\nreplacement = '\\2'\n", 1, "bad replacement"),
        ("[[delete]]\nkey = ['a']\n", 1, "unknown field 'key'"),
        ("[[delete]]\nname = 'x'\n", 1, "give keys or regex"),
        ("[[keep]]\nkeys = ['a']\nin = ['spans']\n", 1, "'spans' is not one of span, event"),
        ("[[replace]\n", 1, "not valid TOML"),
    ],
)
def test_a_wrong_rules_file_names_the_file_line_and_reason(text: str, line: int, reason: str) -> None:
    with pytest.raises(RulesError) as err:
        parse_rules(text, "my.toml")
    message = str(err.value)
    assert "\n" not in message
    assert reason in message
    if "TOML" not in reason:
        assert message.startswith(f"my.toml:{line}: ")
    else:
        assert message.startswith("my.toml: not valid TOML") and "line 1" in message


def test_a_spec_that_is_neither_preset_nor_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="neither a preset"):
        load(str(tmp_path / "missing.toml"))


# -- key rules ---------------------------------------------------------------------------------
def test_delete_by_exact_glob_and_regex_key_in_the_places_given() -> None:
    s = scrubber(
        """
[[delete]]
keys = ["a.exact", "g.*"]
regex = ["^re_"]
in = ["span", "resource"]
"""
    )
    attrs = {"a.exact": 1, "g.x": "v", "re_k": True, "keep": "k", "a.exactly": 2}
    assert s.attributes(attrs, "span") == {"keep": "k", "a.exactly": 2}
    assert s.attributes(attrs, "log") == attrs  # not in the places given
    assert s.resource((("g.host", "h"), ("z", "1"))) == (("z", "1"),)
    assert s.counts[("delete[1]", "span[g.x]")] == 1


def test_keep_is_an_allow_list() -> None:
    s = scrubber('[[keep]]\nkeys = ["service.*", "exact"]\nin = ["resource"]\n')
    res = (("exact", 1), ("host.name", "h"), ("service.name", "svc"), ("service.version", "1"))
    assert s.resource(res) == (("exact", 1), ("service.name", "svc"), ("service.version", "1"))
    assert s.attributes({"host.name": "h"}, "span") == {"host.name": "h"}


def test_hash_gives_equal_tokens_for_equal_values_and_keeps_booleans() -> None:
    s = scrubber('[[hash]]\nkeys = ["user", "ids"]\nlabel = "u"\n')
    a = s.attributes({"user": "bob", "ids": ["bob", 7, True, None]}, "span")
    assert a["user"].startswith("‹u:") and a["user"].endswith("›") and len(a["user"]) == len("‹u:›") + 8
    assert a["ids"][0] == a["user"]
    assert a["ids"][1] == s.token("7", "u") and a["ids"][2:] == [True, None]
    assert s.token("bob", "u") == scrubber('[[hash]]\nkeys=["x"]').token("bob", "u")  # same salt
    assert s.token("bob", "u") != scrubber('[[hash]]\nkeys=["x"]', salt=b"other").token("bob", "u")
    assert "bob" not in repr(a)


def test_the_first_key_rule_that_applies_decides() -> None:
    s = scrubber('[[hash]]\nkeys = ["k"]\n\n[[delete]]\nkeys = ["k"]\n')
    assert "k" in s.attributes({"k": "v"}, "span")


# -- replace -----------------------------------------------------------------------------------
def test_replace_reaches_every_string_at_any_depth_in_every_place() -> None:
    s = scrubber(REPLACE_SECRET)
    deep = {"m": [SECRET, {"k": [f"x {SECRET} y", {SECRET: 1}]}], "n": 3.5}
    attrs = {"a": SECRET, "arr": [SECRET, 1], "map": deep}
    resource = (("r", SECRET), ("nested", freeze({"k": [SECRET]})))
    rec = span(
        name=f"op {SECRET}",
        status_message=SECRET,
        attributes=attrs,
        events=[SpanEvent(f"ev {SECRET}", 15, {"exception.stacktrace": f"Error\n  at {SECRET}"})],
        links=[SpanLink(1, 2, attributes={"l": SECRET})],
        resource=resource,
        scope=Scope("sc", "1", attributes=(("s", SECRET),)),
    )
    out = s.record(rec)
    assert SECRET not in repr(out)
    assert out.name == "op X" and out.events[0].attributes["exception.stacktrace"] == "Error\n  at X"
    assert isinstance(dict(out.resource)["nested"], FrozenMap)
    assert out.attributes["map"]["m"][1] == {"k": ["x X y", {"X": 1}]} and out.attributes["map"]["n"] == 3.5
    assert SECRET in repr(attrs) and SECRET in repr(resource)  # maps that may be shared are not changed


@pytest.mark.parametrize("body", [SECRET, {"msg": SECRET, "list": [[SECRET]]}, [SECRET, {"a": SECRET}]])
def test_replace_in_log_bodies_string_or_structured(body: object) -> None:
    s = scrubber(REPLACE_SECRET)
    out = s.record(
        log(body=body, attributes={"a": [SECRET]}, event_name=SECRET, scope=Scope("x", attributes=(("s", SECRET),)))
    )
    assert SECRET not in repr(out)
    assert type(out.body) is type(body)


def test_ids_times_structure_severity_and_metric_numbers_stay() -> None:
    s = build_scrubber(["secrets", "pii", "codemachine"], "salt")
    rec = span(events=[SpanEvent("e", 15, {})], links=[SpanLink(1, 2, "ts=1", flags=256)], trace_state="k=v")
    out = s.record(rec)
    assert (out.trace_id, out.span_id, out.parent_span_id, out.start_ns, out.end_ns, out.kind, out.status_code) == (
        0xABC,
        0xDEF,
        0x123,
        10,
        20,
        1,
        2,
    )
    assert (out.events[0].time_ns, out.links[0].trace_state, out.links[0].flags, out.trace_state) == (
        15,
        "ts=1",
        256,
        "k=v",
    )
    lg = s.record(log(key=b"k", observed_ns=9, flags=1))
    assert (lg.time_ns, lg.severity_number, lg.severity_text, lg.key, lg.observed_ns, lg.flags) == (
        5,
        17,
        "ERROR",
        b"k",
        9,
        1,
    )
    metric = Metric("process.memory.usage", MetricKind.GAUGE, "desc /home/bob", "By")
    point = MetricPoint(metric, {"host.name": "h"}, 1, 2, 42.5, (), ORIGIN, exemplars=[Exemplar(3, 1.5, {"x": "y"})])
    out_point = s.record(point)
    assert (out_point.metric, out_point.value, out_point.start_ns, out_point.time_ns) == (metric, 42.5, 1, 2)
    assert out_point.attributes["host.name"] != "h" and out_point.exemplars[0].value == 1.5


def test_a_scrubbed_path_keeps_its_shape() -> None:
    s = build_scrubber(["pii"], "salt")
    token = s.token("dev", "user")
    assert s.attributes({"p": "/home/dev/webapp/src/app.ts"}, "span")["p"] == f"/home/{token}/webapp/src/app.ts"
    assert s.attributes({"p": "C:\\Users\\dev\\x"}, "span")["p"] == f"C:\\Users\\{token}\\x"
    assert s.attributes({"p": "/Users/dev/x"}, "span")["p"] == f"/Users/{token}/x"
    assert s.attributes({"process.owner": "dev"}, "resource")["process.owner"] == token  # one user, one token


def test_rules_never_rewrite_inside_a_token() -> None:
    s = scrubber(
        '[[replace]]\npattern = "bob"\nhash = 0\nlabel = "u"\n\n'
        '[[replace]]\npattern = "[0-9a-f]{8}"\nreplacement = "N"\n'
    )
    out = s.attributes({"a": "bob deadbeef"}, "span")["a"]
    assert out == f"{s.token('bob', 'u')} N"


def test_keyed_replace_only_touches_those_keys() -> None:
    s = scrubber('[[replace]]\nkeys = ["host.*"]\npattern = ".+"\nreplacement = "H"\nin = ["resource"]\n')
    assert s.resource((("host.name", "box"), ("other", "box"))) == (("host.name", "H"), ("other", "box"))


def test_counts_say_which_rule_changed_which_key_how_often() -> None:
    s = build_scrubber(["secrets"], "salt")
    for _ in range(3):
        s.record(log(body="password=hunter22", resource=(("db.password", "x1234"),)))
    assert s.counts[("secrets/secret-pairs", "log.body")] == 3
    assert s.counts[("secrets/secret-keys", "resource[db.password]")] == 3  # cached resource counted each time


def test_the_preset_catches_each_documented_shape() -> None:
    s = build_scrubber(["secrets", "pii"], "salt")
    planted = {
        "https://bob:PlantedUrlPw@git.example.com/r": "PlantedUrlPw",
        "Authorization: Bearer PlantedBearerTok1": "PlantedBearerTok1",
        '{"api_key": "PlantedApiKey1"}': "PlantedApiKey1",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIPlantedPEM\n-----END RSA PRIVATE KEY-----": "MIIPlantedPEM",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.PlantedSignature1": "PlantedSignature1",
        "key sk-ant-api03-PlantedAnthropicKey01": "PlantedAnthropicKey01",
        "sk-proj-PlantedOpenAIKey0123456789": "PlantedOpenAIKey",
        "ghp_PlantedGitHubToken0123456789abcdefghij": "PlantedGitHubToken",
        "github_pat_PlantedFineGrained0123456789_abc": "PlantedFineGrained",
        "xoxb-1234-PlantedSlack": "PlantedSlack",
        "id AKIAPLANTEDKEY012345": "AKIAPLANTEDKEY012345",
        "mail planted.person@example.org": "planted.person",
        "from 203.0.113.77:443": "203.0.113.77",
        "v6 [2001:db8:85a3::8a2e:370:7334]:80": "2001:db8:85a3::8a2e:370:7334",
        "v6 fe80::1 and ::1": "fe80::1",
    }
    for text, needle in planted.items():
        out = s.attributes({"m": text}, "log")["m"]
        assert needle not in out, (text, out)
    kept = "engine 0.8.0 at 17:00:00.123, std::vector, tokens.input=912, token.type input"
    assert s.attributes({"m": kept}, "log")["m"] == kept


def test_salt_fingerprint_does_not_reveal_the_salt() -> None:
    fp = salt_fingerprint(b"my-salt")
    assert len(fp) == 12 and "my-salt" not in fp and fp == salt_fingerprint(b"my-salt") != salt_fingerprint(b"x")


def test_a_scrubber_crosses_to_a_worker_process_with_its_salt() -> None:
    import pickle

    s = build_scrubber(["pii"], None)  # a random salt: the same in every worker of the run
    copy = pickle.loads(pickle.dumps(s))
    assert copy.token("v", "l") == s.token("v", "l") and copy.rules == s.rules
