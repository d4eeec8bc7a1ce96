"""``--shard I/N``'s assignment (otel_replay/shard.py): parsing the flag, keys that name an
input the same way from any mount point, and shares that are stable, disjoint, complete
and balanced."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from otel_replay.shard import (
    Shard,
    copy_key,
    input_key,
    parse_shard,
    part_key,
    session_file,
    shard_file_name,
    share_of,
)


# -- the flag's value ---------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [("1/3", Shard(1, 3)), ("3/3", Shard(3, 3)), (" 2 / 5 ", Shard(2, 5))])
def test_i_of_n_counts_from_one(text: str, expected: Shard) -> None:
    assert parse_shard(text) == expected
    assert str(expected) == f"{expected.index}/{expected.count}"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("0/3", "shares are numbered 1 to 3"),
        ("4/3", "shares are numbered 1 to 3"),
        ("1/0", "N must be at least 1"),
        ("a/b", "is not I/N"),
        ("x/3", "is not I/N"),
        ("1", "is not I/N"),
        ("-1/3", "is not I/N"),
        ("1/3/3", "is not I/N"),
    ],
)
def test_a_wrong_share_says_why(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_shard(text)


def test_auto_takes_the_share_of_a_kubernetes_indexed_job_pod() -> None:
    assert parse_shard("auto/4", {"JOB_COMPLETION_INDEX": "0"}) == Shard(1, 4)
    assert parse_shard("auto/4", {"JOB_COMPLETION_INDEX": "3"}) == Shard(4, 4)
    with pytest.raises(ValueError, match="JOB_COMPLETION_INDEX, which is not set"):
        parse_shard("auto/4", {})
    with pytest.raises(ValueError, match="indexed 0 to 3"):
        parse_shard("auto/4", {"JOB_COMPLETION_INDEX": "4"})
    with pytest.raises(ValueError, match="not a number"):
        parse_shard("auto/4", {"JOB_COMPLETION_INDEX": "two"})


# -- keys ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "root", "key"),
    [
        ("/mnt/a/dumps/2026-12-02/18-32-29.json", "/mnt/a/dumps", "2026-12-02/18-32-29.json"),
        ("/data/copy/2026-12-02/18-32-29.json", "/data/copy/", "2026-12-02/18-32-29.json"),
        ("./2026-12-02/18-32-29.json", ".", "2026-12-02/18-32-29.json"),
        ("/mnt/a/dump.jsonl", "/mnt/a/dump.jsonl", "dump.jsonl"),
        ("dump.jsonl", "dump.jsonl", "dump.jsonl"),
        ("/mnt/a/bug.zip!traces/latest.json", "/mnt/a/bug.zip", "bug.zip!traces/latest.json"),
        ("in/bug.zip!x.json", "in", "bug.zip!x.json"),
        ("C:\\data\\cm\\2026-12-02\\a.json", "C:\\data\\cm", "2026-12-02/a.json"),
        ("<stdin>!dir/a.json", "-", "<stdin>!dir/a.json"),
    ],
)
def test_a_key_does_not_depend_on_where_the_path_is_mounted(name: str, root: str, key: str) -> None:
    assert input_key(name, root) == key


def test_parts_and_copies_have_keys_of_their_own() -> None:
    assert part_key("dump.jsonl", 3) == "dump.jsonl#part3"
    session = "/home/dev/webapp/.codemachine/traces/2026-12-02/18-32-29.json"
    assert copy_key("latest.json", session) == "2026-12-02/18-32-29.json"
    assert copy_key("traces/latest-logs.json", session) == "traces/2026-12-02/18-32-29.json"
    assert copy_key("bug.zip!latest.json", session) == "bug.zip!2026-12-02/18-32-29.json"
    assert copy_key("bug.zip!traces/latest.json", "C:\\Users\\dev\\traces\\2026-12-02\\a.json") == (
        "bug.zip!traces/2026-12-02/a.json"
    )


def test_the_session_file_is_read_from_the_start_of_a_copy() -> None:
    head = b'{\n  "version": 1,\n  "spanCount": 2,\n  "sessionFile": "/home/dev/t/2026-12-02/18-32-29.json",\n'
    assert session_file(head) == "/home/dev/t/2026-12-02/18-32-29.json"
    assert session_file(b'{"sessionFile": "C:\\\\t\\\\a \\"b\\".json"}') == 'C:\\t\\a "b".json'
    assert session_file(b'{"version": 1, "spans": [') is None
    assert session_file(b'{"sessionFile": 7}') is None
    assert session_file(b'{"sessionFile": ""}') is None
    assert session_file(b'{"sessionFile": "/home/dev/t/2026-12-02/18-3') is None  # cut off


def test_each_shard_writes_output_files_of_its_own() -> None:
    assert shard_file_name("traces.jsonl", None) == "traces.jsonl"
    assert shard_file_name("traces.jsonl", Shard(2, 3)) == "traces.shard-2-of-3.jsonl"
    names = {shard_file_name("logs.jsonl", Shard(i, 12)) for i in range(1, 13)}
    assert len(names) == 12


# -- shares --------------------------------------------------------------------------------------
def _names(count: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    days = [f"2026-{m:02d}-{d:02d}" for m in range(1, 13) for d in range(1, 29)]
    out = set()
    while len(out) < count:
        day, t = rng.choice(days), f"{rng.randrange(24):02d}-{rng.randrange(60):02d}-{rng.randrange(60):02d}"
        kind = rng.choice(["", "-logs", "-metrics"])
        prefix = rng.choice(["", "bug.zip!", "reports/b.tar.gz!traces/"])
        out.add(f"{prefix}{day}/{t}{kind}.json")
    return sorted(out)


def test_shares_are_stable() -> None:
    """The same key lands in the same share in every process, on every run (fixed values:
    a change of the hash would split the work of machines running different versions)."""
    assert [share_of(k, 3) for k in ("a.json", "2026-12-02/18-32-29.json", "dump.jsonl#part0", "")] == [3, 2, 2, 1]
    assert [share_of("bug.zip!latest.json", n) for n in (1, 2, 7, 100)] == [1, 1, 2, 71]


@pytest.mark.parametrize("count", [1, 2, 3, 5, 8, 16])
def test_the_shares_take_every_input_exactly_once(count: int) -> None:
    names = _names(5000, seed=count)
    taken = [[n for n in names if Shard(i, count).takes(n)] for i in range(1, count + 1)]
    assert sorted(n for share in taken for n in share) == names  # no gap, no overlap


@pytest.mark.parametrize("count", [2, 3, 8])
def test_the_shares_are_balanced(count: int) -> None:
    names = _names(12_000, seed=100 + count)
    sizes = Counter(share_of(n, count) for n in names)
    expected = len(names) / count
    assert set(sizes) == set(range(1, count + 1))
    assert max(abs(n - expected) for n in sizes.values()) < 0.06 * expected, sizes
