"""baas.core.aof: where an append-only file's whole commands end, and what follows them."""

from __future__ import annotations

import orjson

from baas.core.aof import find_bad_event, find_damage


def resp(*args: bytes) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


EVENT = orjson.dumps({"id": "e1", "data": {"Data": "buy"}})
FILE = (
    resp(b"SELECT", b"0")
    + resp(b"XADD", b"baas:log:t1", b"1-0", b"event", EVENT, b"received_at", b"1")
    + b"#TS:1796678742\r\n"
    + resp(b"SET", b"token", b"abcdefgh")
)


def test_whole_commands_and_annotations_are_no_damage() -> None:
    assert find_damage(FILE) is None
    assert find_damage(b"") is None
    assert find_bad_event(FILE) is None


def test_a_file_cut_anywhere_inside_a_command_is_a_write_cut_short() -> None:
    last = FILE.index(b"*3\r\n$3\r\nSET")
    for size in range(last + 1, len(FILE)):
        damage = find_damage(FILE[:size])
        assert damage is not None and damage.truncated, size
        assert damage.offset == last
        assert damage.command.startswith("SET") or size < last + 12


def test_bytes_added_inside_a_value_are_not_a_command() -> None:
    broken = FILE.replace(b'"e1"', b'"e1XYZ"')
    damage = find_damage(broken)
    assert damage is not None and not damage.truncated
    assert damage.offset == len(resp(b"SELECT", b"0"))
    assert damage.command == "XADD baas:log:t1"


def test_a_value_not_followed_by_crlf_is_not_a_command() -> None:
    """Valkey skips the two bytes after a value unread: it would load this file."""
    broken = FILE.replace(b"abcdefgh\r\n", b"abcdefghXY")
    damage = find_damage(broken)
    assert damage is not None and not damage.truncated
    assert damage.command == "SET token"


def test_garbage_written_over_an_event_is_found_by_its_format() -> None:
    garbled = FILE.replace(b'"data"', b"\x00\xff\x00\xff\x00\xff")
    assert len(garbled) == len(FILE) and find_damage(garbled) is None
    bad = find_bad_event(garbled)
    assert bad is not None
    assert bad.offset == len(resp(b"SELECT", b"0"))
    assert bad.command == "XADD baas:log:t1 1-0"
