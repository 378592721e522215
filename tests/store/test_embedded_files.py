"""The embedded store's files at rest: only their owner reads them (they hold every event, the
webhook tokens in plaintext and the store's password)."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import redis

from baas.store.embedded import EmbeddedValkey


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def wait_for_rewrite(client: redis.Redis, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        info = client.info("persistence")
        if not (info["aof_rewrite_in_progress"] or info["aof_rewrite_scheduled"]):
            return
        assert time.monotonic() < deadline, "the append-only file's rewrite did not end"
        time.sleep(0.05)


def test_the_data_directory_and_its_files_are_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    with EmbeddedValkey(data_dir, appendfsync="always") as server:
        client = redis.Redis.from_url(server.url)
        for i in range(20):
            client.xadd("baas:log", {"event": f"event-{i}"})
            client.set(f"baas:webhook-token:{i}", "plaintext-token")
        client.bgrewriteaof()
        wait_for_rewrite(client)
        client.close()
        files = {p.relative_to(data_dir).as_posix(): p for p in data_dir.rglob("*")}
        assert {"store.url", "valkey.conf", "valkey.log", "appendonlydir"} <= set(files)
        assert any(name.endswith(".aof") for name in files)
        assert mode(data_dir) == 0o700
        for name, path in files.items():
            expected = 0o700 if path.is_dir() else 0o600
            assert mode(path) == expected, f"{name} is {oct(mode(path))}"


def test_a_data_directory_made_open_is_closed_at_start(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    data_dir.mkdir(mode=0o755)
    data_dir.chmod(0o755)
    with EmbeddedValkey(data_dir):
        assert mode(data_dir) == 0o700
