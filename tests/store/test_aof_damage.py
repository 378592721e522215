"""A damaged append-only file, on a real embedded Valkey: a write cut short at the end is cut off
with a warning that says what was lost; any other damage stops the start with one message (no
traceback) that names `baas store check --fix`, which cuts the file and keeps a copy."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from baas.cli.main import main
from baas.store.aof_files import parts
from baas.store.embedded import EmbeddedValkey, StoreDamaged

EVENTS = 5


def fill(data_dir: Path) -> Path:
    """A store with EVENTS events in a log and a token set last; returns the last AOF part."""
    with EmbeddedValkey(data_dir, appendfsync="always") as server:
        client = redis.Redis.from_url(server.url)
        for i in range(EVENTS):
            client.xadd("baas:log", {"event": f'{{"id": "e{i}", "data": "hello world"}}'})
        client.set("baas:token", "abcdefgh")
        client.close()
    return parts(data_dir)[-1]


def contents(data_dir: Path) -> tuple[int, bytes | None]:
    with EmbeddedValkey(data_dir) as server:
        client = redis.Redis.from_url(server.url)
        try:
            return client.xlen("baas:log"), client.get("baas:token")
        finally:
            client.close()


def store_check(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "BAAS_REDIS_URL")}
    return subprocess.run(
        [sys.executable, "-m", "baas.cli.main", "store", "check", *args],
        env={**env, "BAAS_DATA_DIR": str(data_dir)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_write_cut_short_is_cut_off_with_a_warning(tmp_path: Path, caplog) -> None:
    data_dir = tmp_path / "var"
    last = fill(data_dir)
    whole = last.read_bytes()
    last.write_bytes(whole[:-10])
    with caplog.at_level(logging.WARNING, logger="baas.store"):
        assert contents(data_dir) == (EVENTS, None)
    (warning,) = [r.getMessage() for r in caplog.records if r.name == "baas.store"]
    assert f"{last.name} ends inside a command (SET baas:token …)" in warning
    assert "a write cut short" in warning
    assert "abcdefgh" not in warning
    [copy] = data_dir.glob(f"aof-damaged-*/{last.name}")
    assert copy.read_bytes() == whole[:-10]
    assert store_check(data_dir).returncode == 0


def test_bytes_inside_a_value_stop_the_start_until_fixed(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    last = fill(data_dir)
    last.write_bytes(last.read_bytes().replace(b'"e3"', b'"e3XYZ"'))
    with pytest.raises(StoreDamaged) as raised:
        EmbeddedValkey(data_dir).start()
    message = str(raised.value)
    assert f"{last.name} holds" in message and "not whole commands" in message
    assert "(XADD baas:log …)" in message
    assert "`baas store check --fix`" in message

    checked = store_check(data_dir)
    assert checked.returncode == 1
    assert checked.stdout.strip() == message.replace("; the store cannot start:", ":")
    fixed = store_check(data_dir, "--fix")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert fixed.stdout.splitlines()[-1].endswith("the append-only file is whole")
    assert contents(data_dir) == (3, None)


def test_garbage_written_over_an_event_is_reported_by_store_check(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    last = fill(data_dir)
    whole = last.read_bytes()
    garbled = whole.replace(b'"e4", "data"', b'"e4"\x00\xff\x00\xff\x00\xff\x00\xff')
    assert len(garbled) == len(whole)
    last.write_bytes(garbled)
    checked = store_check(data_dir)
    assert checked.returncode == 1
    assert "holds an event that is not JSON" in checked.stdout
    assert "garbage inside a value" in checked.stdout
    assert store_check(data_dir, "--fix").returncode == 0
    assert contents(data_dir) == (4, None)


def test_a_damaged_file_ends_a_command_in_one_line(tmp_path: Path, monkeypatch, capsys) -> None:
    data_dir = tmp_path / "var"
    last = fill(data_dir)
    data = last.read_bytes()
    last.write_bytes(data[:40] + b"garbage\r\n" + data[40:])
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("BAAS_REDIS_URL", raising=False)
    monkeypatch.setenv("BAAS_DATA_DIR", str(data_dir))
    assert main(["tenants", "list"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: the append-only file")
    assert "baas store check --fix" in err
