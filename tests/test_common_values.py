"""The value checks the readers share (otel_replay/sources/common.py), at their edges:
what passes as it is, what is changed and said, what is refused and with which words."""

from __future__ import annotations

from typing import Any

import pytest

from otel_replay.model import Adjusted, InvalidRecord, Origin, Signal
from otel_replay.sources.common import (
    INT64_MAX,
    INT64_MIN,
    MAX_ATTRIBUTE_BYTES,
    NULL_NOTE,
    InvalidInput,
    attribute_value,
    checked,
    clean_attributes,
    clean_value,
    double_value,
    epoch_ns,
    finite_number,
    hrtime_to_ns,
    json_array,
    json_object,
    json_string,
    ms_to_ns,
    parse_hex_id,
    plain_array,
    scope_name_version,
    shown,
)
from otel_replay.sources.resources import record_resource

ORIGIN = Origin("f.json", 3)


def _deep_list(levels: int) -> Any:
    value: Any = [1]
    for _ in range(levels):
        value = [value]
    return value


def _refused(call: Any, *args: Any) -> str:
    with pytest.raises(InvalidInput) as raised:
        call(*args)
    return str(raised.value)


@pytest.mark.parametrize(
    ("value", "text"),
    [(7, "7"), ("x", "'x'"), (True, "True"), (2.5, "2.5"), ("y" * 38, repr("y" * 38)), ("y" * 39, "(a string)"),
     ([1], "(an array)"), (None, "(null)")],
)  # fmt: skip
def test_a_value_is_shown_short(value: Any, text: str) -> None:
    assert shown(value) == text


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (5, "id is a number, expected 4 hex characters"),
        ("abc", "id 'abc' has 3 characters, expected 4"),
        ("zz00", "id 'zz00' is not hexadecimal"),
        ("a b ", "id 'a b ' is not hexadecimal"),  # fromhex skips the blanks: too few bytes
        ("0000", "id is all zeros"),
    ],
)
def test_a_hex_id_that_is_not_one_says_why(value: Any, reason: str) -> None:
    assert _refused(parse_hex_id, value, 2, "id") == reason


def test_a_long_id_is_shown_cut() -> None:
    assert _refused(parse_hex_id, "a" * 50, 2, "id") == f"id {'a' * 40!r} has 50 characters, expected 4"


@pytest.mark.parametrize(
    ("check", "good", "empty", "wrong", "reason"),
    [
        (json_array, [1], [], {"a": 1}, "f is an object, expected an array"),
        (json_object, {"a": 1}, {}, [1], "f is an array, expected an object"),
        (json_string, "s", "", 5, "f is a number, expected a string"),
    ],
)
def test_optional_fields_are_empty_when_absent(check: Any, good: Any, empty: Any, wrong: Any, reason: str) -> None:
    assert check(good, "f") is good
    assert check(None, "f") == empty
    assert _refused(check, wrong, "f") == reason


def test_a_string_field_may_default_to_something_else() -> None:
    assert json_string(None, "f", "dflt") == "dflt" and json_string("", "f", "dflt") == ""


def test_a_scope_is_its_name_and_version() -> None:
    assert scope_name_version({"name": "lib", "version": "1.2"}) == ("lib", "1.2")
    assert scope_name_version({}) == ("", None)
    assert scope_name_version({"name": "lib", "version": ""}) == ("lib", None)
    assert _refused(scope_name_version, ["lib"]) == "scope is an array, expected an object"
    assert _refused(scope_name_version, {"name": 1}) == "scope name is a number, expected a string"
    assert _refused(scope_name_version, {"version": 1.5}) == "scope version is a number, expected a string"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "missing n"),
        (True, "n is a boolean, expected a number"),
        ("1", "n is a string, expected a number"),
        (float("nan"), "n is not a finite number"),
        (float("-inf"), "n is not a finite number"),
    ],
)
def test_a_number_field_that_is_none_says_why(value: Any, reason: str) -> None:
    assert _refused(finite_number, value, "n") == reason
    assert _refused(double_value, value, "n") == reason


def test_numbers_pass_and_doubles_are_floats() -> None:
    assert finite_number(3, "n") == 3 and isinstance(finite_number(3, "n"), int)
    assert double_value(3, "n") == 3.0 and isinstance(double_value(3, "n"), float)
    assert _refused(double_value, 10**400, "sum") == "sum is beyond the range of a double"


def test_epoch_ns_takes_up_to_64_unsigned_bits() -> None:
    assert epoch_ns(2**64 - 1, "t") == 2**64 - 1
    assert _refused(epoch_ns, 2**64, "t") == "t is after the year 2554 (beyond 64-bit nanoseconds since 1970)"


@pytest.mark.parametrize(("value", "ns"), [([0, 0], 0), ([1, 999_999_999], 1_999_999_999), ([18446744072, 5], None)])
def test_hrtime_is_seconds_and_nanoseconds(value: list[int], ns: int | None) -> None:
    assert hrtime_to_ns(value) == (ns if ns is not None else 18446744072 * 10**9 + 5)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "missing timestamp"),
        (5, "timestamp is a number, expected [seconds, nanoseconds]"),
        ([1, 2, 3], "timestamp is an array, expected [seconds, nanoseconds]"),
        ([1.5, 0], "timestamp seconds is a number, expected an integer"),
        ([1, True], "timestamp nanoseconds is a boolean, expected an integer"),
        ([-1, 0], "timestamp seconds are negative"),
        ([1, -1], "timestamp nanoseconds -1 outside 0..999999999"),
        ([1, 10**9], "timestamp nanoseconds 1000000000 outside 0..999999999"),
        ([0, 10**9], "timestamp nanoseconds 1000000000 outside 0..999999999"),  # 0 s is not negative
        ([2**64, 0], "timestamp is after the year 2554 (beyond 64-bit nanoseconds since 1970)"),
        ([18446744073, 999_999_999], "timestamp is after the year 2554 (beyond 64-bit nanoseconds since 1970)"),
    ],
)
def test_a_bad_hrtime_says_which_part(value: Any, reason: str) -> None:
    assert _refused(hrtime_to_ns, value) == reason


def test_int64_is_kept_to_its_last_value() -> None:
    for value in (INT64_MIN, INT64_MAX, 0, -1):
        notes: list[str] = []
        assert clean_value(value, notes) == value and isinstance(clean_value(value), int) and notes == []
    notes = []
    assert clean_value(INT64_MAX + 1, notes) == str(INT64_MAX + 1)
    assert clean_value(INT64_MIN - 1, notes, "attributes 'n'") == str(INT64_MIN - 1)
    assert notes == [
        "value: integer beyond 64 bits sent as its decimal string",
        "attributes 'n': integer beyond 64 bits sent as its decimal string",
    ]


def test_a_nested_value_names_where_it_changed() -> None:
    notes: list[str] = []
    assert clean_value({"a": [1, {"b": 2**64}]}, notes, "x") == {"a": [1, {"b": str(2**64)}]}
    assert notes == ["x 'a' 'b': integer beyond 64 bits sent as its decimal string"]


def test_booleans_are_not_integers() -> None:
    assert clean_value(True) is True and clean_attributes({"b": False}) == {"b": False}


@pytest.mark.parametrize(
    ("value", "note"),
    [
        (None, NULL_NOTE),
        ({"k": 1}, "a: object sent as a key-value list (attribute values are primitives or arrays)"),
        ([1, "x"], "a: array of mixed types sent as a list of typed values (arrays hold one type)"),
        ([True, 1], "a: array of mixed types sent as a list of typed values (arrays hold one type)"),
        (["x", {"k": 1}], "a: array of mixed types sent as a list of typed values (arrays hold one type)"),
        (["x", ["y"]], "a: array of mixed types sent as a list of typed values (arrays hold one type)"),
    ],
)
def test_what_the_sdk_never_writes_is_noted(value: Any, note: str) -> None:
    notes: list[str] = []
    attribute_value(value, notes, "a")
    assert notes == [note]


@pytest.mark.parametrize("value", [[1, 2.5], [True, False], [], "s", 1.5, ["a"]])
def test_what_the_sdk_writes_is_not_noted(value: Any) -> None:
    notes: list[str] = []
    assert attribute_value(value, notes, "a") == value and notes == []


ARRAYS = [
    [], ["a", "é" * 70_000], [True, False], [1, -5], [1, 2.5], [0.5], [INT64_MAX, INT64_MIN],
    [INT64_MAX + 1], [INT64_MIN - 1, 2], [1, "x"], [True, 1], [1.5, False], ["x", None], [None],
    [["y"]], [{"k": 1}], ["x", ["y"]],
]  # fmt: skip


@pytest.mark.parametrize("value", ARRAYS)
def test_the_fast_array_check_agrees_with_the_full_one(value: list[Any]) -> None:
    """``clean_attributes`` skips the full check for arrays ``plain_array`` accepts: those
    of one primitive type that the full check passes unchanged and without a note (arrays
    of arrays or objects take the full check)."""
    notes: list[str] = []
    unchanged = attribute_value(value, notes, "a") is value and notes == []
    nested = any(isinstance(v, (list, dict)) for v in value)
    assert plain_array(value) is (unchanged and not nested)
    notes = []
    assert clean_attributes({"a": value}, "attributes", notes) == {"a": attribute_value(value, [], "attributes 'a'")}


def test_a_null_in_an_array_is_marked_once_as_no_change() -> None:
    """The JS SDK writes NaN and ±Infinity as null: the marker is a hint, not a change."""
    notes: list[str] = []
    assert attribute_value(["x", None, "y", None], notes, "a") == ["x", None, "y", None]
    assert notes == [NULL_NOTE]


def test_a_long_string_is_cut_to_the_limit_and_noted() -> None:
    notes: list[str] = []
    fits = "é" * 50  # 100 bytes
    assert attribute_value(fits, notes, "a", 100) == fits and notes == []
    cut = attribute_value("é" * 51, notes, "a", 100)
    assert len(cut.encode()) <= 100 and cut.endswith("bytes truncated]")
    assert notes == ["a: string of 102 bytes cut to 100, marker appended"]
    assert attribute_value("é" * 51, None, "a", 100) == cut  # without notes, cut all the same
    assert attribute_value("x" * 10**6, notes, "a", None) == "x" * 10**6  # no limit: log records


def test_the_attribute_limit_is_256_kb() -> None:
    notes: list[str] = []
    exact = "x" * MAX_ATTRIBUTE_BYTES
    assert clean_attributes({"a": exact}, notes=notes) == {"a": exact} and notes == []
    cut = clean_attributes({"a": exact + "x"}, notes=notes)
    assert len(cut["a"]) <= MAX_ATTRIBUTE_BYTES and notes == [
        f"attributes 'a': string of {MAX_ATTRIBUTE_BYTES + 1} bytes cut to {MAX_ATTRIBUTE_BYTES}, marker appended"
    ]


def test_attributes_are_copied_only_when_something_changes() -> None:
    plain = {"s": "x", "i": 1, "f": 1.5, "b": True, "l": [1, 2]}
    assert clean_attributes(plain) is plain
    notes: list[str] = []
    changed = clean_attributes({"s": "x", "big": 2**64, "n": None}, "resource", notes)
    assert changed == {"s": "x", "big": str(2**64), "n": None}
    assert notes == [
        "resource 'big': integer beyond 64 bits sent as its decimal string",
        NULL_NOTE,
    ]
    assert clean_attributes(None) == {}
    assert _refused(clean_attributes, [1], "attrs") == "attrs is an array, expected an object"


def test_every_attribute_is_looked_at_and_cut_to_the_limit_given() -> None:
    notes: list[str] = []
    original = {"b": True, "f": 1.5, "i": 1, "big": 2**64, "s": "x" * 200}
    cleaned = clean_attributes(original, "attributes", notes, 100)
    assert original == {"b": True, "f": 1.5, "i": 1, "big": 2**64, "s": "x" * 200}  # changed in a copy
    assert cleaned["big"] == str(2**64) and cleaned["s"].endswith("bytes truncated]") and len(cleaned["s"]) <= 100
    assert (cleaned["b"], cleaned["f"], cleaned["i"]) == (True, 1.5, 1)
    assert notes == [
        "attributes 'big': integer beyond 64 bits sent as its decimal string",
        "attributes 's': string of 200 bytes cut to 100, marker appended",
    ]


def test_a_records_resource_is_its_own_or_the_sessions() -> None:
    default = (("service.name", "codemachine"),)
    assert record_resource(None, default) is default
    assert record_resource({"service.name": "s", "big": 2**64}, default) == (("big", str(2**64)), ("service.name", "s"))
    assert _refused(record_resource, "s", default) == "resource is a string, expected an object"


def test_a_records_resource_is_noted_where_it_changes_and_never_cut() -> None:
    notes: list[str] = []
    long = "x" * (MAX_ATTRIBUTE_BYTES + 1)  # a record's resource goes to Loki, whose sink applies its own limits
    resource = record_resource({"big": 2**64, "long": long}, (), notes)
    assert resource == (("big", str(2**64)), ("long", long))
    assert notes == ["resource 'big': integer beyond 64 bits sent as its decimal string"]


def test_a_resource_read_again_is_the_same_and_noted_again_where_it_changes() -> None:
    """Every log record of a session repeats its resource: read as it was cleaned the first
    time, the note included for each record whose resource changes (not only the first)."""
    for _ in range(3):
        notes: list[str] = []
        assert record_resource({"service.name": "s", "n": None}, (), notes) == (("n", None), ("service.name", "s"))
        assert notes == [NULL_NOTE]
        assert record_resource({"big": 2**64}, (), notes) == (("big", str(2**64)),)
        assert notes == [NULL_NOTE, "resource 'big': integer beyond 64 bits sent as its decimal string"]
    first = record_resource({"service.name": "s", "v": 1}, (), [])
    assert record_resource({"service.name": "s", "v": 1}, (), []) is first
    assert record_resource({"service.name": "s", "v": True}, (), []) == (("service.name", "s"), ("v", True))
    assert record_resource({"service.name": "s", "v": 1.0}, (), []) == (("service.name", "s"), ("v", 1.0))
    assert type(record_resource({"service.name": "s", "v": 1.0}, (), [])[1][1]) is float


def test_a_resource_of_strings_read_again_is_never_taken_for_one_of_other_values() -> None:
    """The last resource of strings is remembered and told by equality: a value of another
    JSON type that a string would equal elsewhere (1, True, 1.0) is never taken for it, and
    changing the dict it was read from afterwards changes nothing."""
    read = {"service.name": "s", "v": "1"}
    strings = record_resource(read, (), [])
    assert record_resource({"service.name": "s", "v": "1"}, (), []) is strings
    for other in (1, True, 1.0, None, ["1"], {"1": "1"}):
        assert record_resource({"service.name": "s", "v": other}, (), []) != strings
        assert record_resource({"service.name": "s", "v": "1"}, (), []) is strings
    read["v"] = "2"
    assert record_resource({"service.name": "s", "v": "2"}, (), []) == (("service.name", "s"), ("v", "2"))
    assert record_resource({"service.name": "s", "v": "1"}, (), []) is strings
    for first, then in ((1, True), (True, 1), (1, 1.0), (1.0, 1)):  # equal in Python, not in JSON
        record_resource({"v": first}, (), [])
        assert type(record_resource({"v": then}, (), [])[0][1]) is type(then)


def _convert(value: Any, notes: list[str]) -> Any:
    if value == "bad":
        notes.append("a note that goes with the refusal")
        raise InvalidInput("refused: bad")
    if value == "changed":
        notes.append("x changed")
        notes.append("y changed")
    return value


def test_checked_says_how_a_record_came_out() -> None:
    notes: list[str] = []
    assert checked(Signal.LOGS, ORIGIN, notes, _convert, "ok", notes) == ("ok",)
    assert checked(Signal.LOGS, ORIGIN, notes, _convert, "changed", notes) == (
        Adjusted(Signal.LOGS, ORIGIN, "x changed; y changed"), "changed",
    )  # fmt: skip
    assert notes == []
    assert checked(Signal.TRACES, ORIGIN, notes, _convert, "bad", notes) == (
        InvalidRecord(Signal.TRACES, ORIGIN, "refused: bad"),
    )
    assert notes == []  # the refused record's notes do not go with the next one


@pytest.mark.parametrize("wrap", [lambda v: [v], lambda v: {"k": v}], ids=["arrays", "objects"])
def test_values_nest_32_levels_at_most(wrap: Any) -> None:
    value: Any = 1
    for _ in range(32):
        value = wrap(value)
    assert clean_value(value, [], "x") is value
    reason = _refused(clean_value, wrap(value), [], "x")
    assert reason.startswith("x") and reason.endswith(" nests arrays and objects more than 32 levels deep")


def test_a_value_that_changes_is_a_copy_and_the_original_is_left_as_it_was() -> None:
    original = {"a": 1, "big": 2**64, "l": [2**64]}
    cleaned = clean_value(original)
    assert cleaned == {"a": 1, "big": str(2**64), "l": [str(2**64)]}
    assert original == {"a": 1, "big": 2**64, "l": [2**64]}


@pytest.mark.parametrize(
    ("call", "args", "reason", "kind", "value"),
    [
        (parse_hex_id, (5, 2, "id"), "id is a number, expected 4 hex characters", "an id is not a string", None),
        (parse_hex_id, ("abc", 2, "id"), "id 'abc' has 3 characters, expected 4", "an id has the wrong length", "abc"),
        (parse_hex_id, ("zz00", 2, "id"), "id 'zz00' is not hexadecimal", "an id is not hexadecimal", "zz00"),
        (parse_hex_id, ("0000", 2, "id"), "id is all zeros", "an id is all zeros", None),
        (json_array, ({}, "a"), "a is an object, expected an array", "a field is not an array", None),
        (json_object, ([], "o"), "o is an array, expected an object", "a field is not an object", None),
        (json_string, (3, "s"), "s is a number, expected a string", "a field is not a string", None),
        (scope_name_version, ([],), "scope is an array, expected an object", "scope is not an object", None),
        (
            scope_name_version,
            ({"name": 1},),
            "scope name is a number, expected a string",
            "a field is not a string",
            None,
        ),
        (finite_number, (None, "n"), "missing n", "a required field is missing", None),
        (finite_number, ("1", "n"), "n is a string, expected a number", "a field is not a number", None),
        (finite_number, (float("nan"), "n"), "n is not a finite number", "a number is not finite", None),
        (
            double_value,
            (10**400, "s"),
            "s is beyond the range of a double",
            "a number is beyond the range of a double",
            None,
        ),
        (
            epoch_ns,
            (2**64, "t"),
            "t is after the year 2554 (beyond 64-bit nanoseconds since 1970)",
            "a time is after the year 2554",
            None,
        ),
        (ms_to_ns, (-5, "startTime"), "startTime is negative", "a time is negative", None),
        (ms_to_ns, (None, "startTime"), "missing startTime", "a required field is missing", None),
        (hrtime_to_ns, (None,), "missing timestamp", "", None),
        (
            hrtime_to_ns,
            (5,),
            "timestamp is a number, expected [seconds, nanoseconds]",
            "timestamp is not [seconds, nanoseconds]",
            None,
        ),
        (
            hrtime_to_ns,
            ([1.5, 0],),
            "timestamp seconds is a number, expected an integer",
            "timestamp part is not an integer",
            None,
        ),
        (hrtime_to_ns, ([-1, 0],), "timestamp seconds are negative", "", None),
        (
            hrtime_to_ns,
            ([1, 10**9],),
            "timestamp nanoseconds 1000000000 outside 0..999999999",
            "timestamp nanoseconds out of range",
            "1000000000",
        ),
        (
            clean_attributes,
            ([1], "attributes", None),
            "attributes is an array, expected an object",
            "attributes are not an object",
            None,
        ),
        (
            clean_value,
            (_deep_list(40), [], "v"),
            "v nests arrays and objects more than 32 levels deep",
            "a value is nested too deep",
            None,
        ),
    ],
)
def test_each_refusal_carries_its_kind_and_the_value_it_shows(
    call: Any, args: tuple[Any, ...], reason: str, kind: str, value: str | None
) -> None:
    """The kind is what the summary groups problems by (empty: the reason is its own kind)."""
    with pytest.raises(InvalidInput) as raised:
        call(*args)
    assert (str(raised.value), raised.value.key, raised.value.value) == (reason, kind, value)


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ({"k": 1}, "object sent as a key-value list"),
        ([1, "x"], "array of mixed types sent as typed values"),
        ("x" * 300_000, "long string cut"),
        (2**70, "integer beyond 64 bits sent as a string"),
    ],
)
def test_each_change_to_a_value_carries_its_kind(value: Any, kind: str) -> None:
    notes: list[str] = []
    attribute_value(value, notes, "a", 256 * 1024)
    assert [getattr(note, "key", None) for note in notes] == [kind]


def test_the_value_a_refusal_shows_is_its_text_or_json_cut_at_200_characters() -> None:
    def shows(value: Any) -> str | None:
        return InvalidInput("r", "k", value).value

    assert shows("é" * 200) == "é" * 200 and shows("é" * 201) == "é" * 200 + "…"
    assert shows({"k": "é"}) == '{"k": "é"}' and shows([1] * 100) == ("[" + "1, " * 66 + "1")[:200] + "…"
    assert shows(b"x") == "\"b'x'\""  # not JSON: as Python writes it
    assert shows(None) is None and shows(0) == "0"


def test_milliseconds_past_the_fast_path_are_converted_as_exactly() -> None:
    """The last thousandth of the 64-bit range (floats from ``_MAX_MS`` on) goes through the
    full conversion: the same whole milliseconds and rounded fraction, or too late."""
    assert ms_to_ns(18_446_744_073_708.5, "t") == 18_446_744_073_708_500_000
    assert ms_to_ns(18_446_744_073_708.75, "t") == 18_446_744_073_708_750_000
    assert ms_to_ns(18_446_744_073_709.25, "t") == 18_446_744_073_709_250_000
    assert ms_to_ns(18_446_744_073_709, "t") == 18_446_744_073_709_000_000
    assert _refused(ms_to_ns, 18_446_744_073_709.75, "t").startswith("t is after the year 2554")
