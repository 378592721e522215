"""Running ``baas`` as a user runs it: a subprocess with an environment, and the processes of a
``baas run`` in the background."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

from tests.support.events import signal_event

COMMAND_TIMEOUT = 60
BANNER_TIMEOUT = 60
STOP_TIMEOUT = 20
_SCRIPT = Path(sys.executable).with_name("baas")
BAAS = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "baas.cli.main"]
LOOPBACK = {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}


def clean_env(**settings: str) -> dict[str, str]:
    """This process's environment without any store or service setting, plus ``settings``."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("BAAS_") and name not in ("REDIS_URL", "PORT")
    }
    return {**env, **LOOPBACK, **settings}


def baas(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*BAAS, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def trading(base: str, tenant_id: str) -> str:
    return f"{base}/tenants/{tenant_id}/api/trading"


def submit(base: str, tenant_id: str, api_key: str) -> httpx.Response:
    return httpx.post(
        trading(base, tenant_id),
        json=signal_event(tenant_id),
        headers={"X-Api-Key": api_key},
        timeout=10,
    )


def process_table() -> dict[int, tuple[int, str]]:
    """pid → (parent pid, state) of every process."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            table[int(entry.name)] = (int(fields[1]), fields[0])
    return table


def cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def descendants(root: int) -> dict[int, str]:
    table = process_table()
    found: dict[int, str] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, state) in table.items():
            if ppid == parent and pid not in found and state != "Z":
                found[pid] = cmdline(pid)
                frontier.append(pid)
    return found


def ours(*markers: Path | str) -> dict[int, str]:
    """Live processes whose command line or environment mentions one of ``markers``."""
    needles = [str(m).encode() for m in markers]
    found = {}
    for pid, (_, state) in process_table().items():
        if pid == os.getpid() or state == "Z":
            continue
        with contextlib.suppress(OSError):
            proc = Path("/proc") / str(pid)
            text = (proc / "cmdline").read_bytes() + b"\0" + (proc / "environ").read_bytes()
            if any(needle in text for needle in needles):
                found[pid] = cmdline(pid)
    return found


class BaasRun:
    """``baas run`` in the background, its stdout read as it comes."""

    def __init__(self, env: dict[str, str], cwd: Path, log: Path) -> None:
        self.log_path = log
        self._stderr = log.open("ab")
        self.process = subprocess.Popen(
            [*BAAS, "run"],
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
        )
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.children: dict[int, str] = {}

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            with self._changed:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def log(self) -> str:
        """What it wrote to stderr so far (its children's logs included)."""
        return self.log_path.read_text(errors="replace")

    @property
    def output(self) -> str:
        with self._changed:
            return "\n".join(self.lines)

    def wait_for(self, ready: Callable[[str], bool], timeout: float = BANNER_TIMEOUT) -> str:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                text = "\n".join(self.lines)
                if ready(text):
                    self.children = descendants(self.process.pid)
                    return text
                if self.process.poll() is not None and not self._reader.is_alive():
                    raise AssertionError(f"baas run exited {self.process.returncode}:\n{text}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no banner within {timeout} s:\n{text}")
                self._changed.wait(min(left, 0.5))

    def interrupt(self) -> int:
        """Ctrl-C; the exit status (within STOP_TIMEOUT)."""
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(STOP_TIMEOUT)

    def close(self) -> None:
        """Whatever happened: nothing of this run is left running."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for pid, command in self.children.items():
            if cmdline(pid) == command:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self._reader.join(5)
        self._stderr.close()


@contextlib.contextmanager
def baas_run(env: dict[str, str], cwd: Path) -> Iterator[BaasRun]:
    run = BaasRun(env, cwd, cwd / "baas-run.stderr")
    try:
        yield run
    finally:
        run.close()


def banner_value(banner: str, label: str) -> str:
    match = re.search(rf"^\s*{re.escape(label)}:\s+(\S+)", banner, re.MULTILINE)
    assert match, f"no {label!r} in the banner:\n{banner}"
    return match.group(1)


FIRST_START = re.compile(r"^export TENANT_ID=(\S+) API_KEY=(\S+)$", re.MULTILINE)


def first_start(banner: str) -> tuple[str, str]:
    """The tenant id and the API key of a first start's banner."""
    match = FIRST_START.search(banner)
    assert match, f"no first-start line in the banner:\n{banner}"
    return match.group(1), match.group(2)


def gone(pids: dict[int, str], timeout: float = 5.0) -> dict[int, str]:
    """Those of ``pids`` (with the same command line) still alive after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        table = process_table()
        alive = {
            pid: command
            for pid, command in pids.items()
            if pid in table and table[pid][1] != "Z" and cmdline(pid) == command
        }
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


def roles(children: dict[int, str]) -> set[str]:
    found = set()
    for command in children.values():
        if "valkey" in command:
            found.add("valkey")
        for role in ("gateway", "worker"):
            if re.search(rf"baas\.cli\.main {role}\b", command):
                found.add(role)
    return found
