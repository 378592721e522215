"""``baas run``: the whole service in one command.

Checks that the gateway's port is free, starts the embedded Valkey (unless ``BAAS_REDIS_URL``
names a server), runs the gateway and the worker as child processes and, once the gateway
answers, sets up a first tenant on an empty store (``first_start``). It keeps them running: a
process that exits, the store included, is started again after a backoff; one that
exits ``BAAS_RESTART_LIMIT`` times within ``BAAS_RESTART_WINDOW_SECONDS`` stops everything.
Ctrl-C (or SIGTERM) stops the children first, then the store, which flushes its append-only file.
Every child dies with this process, however it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from baas.cli.first_start import FirstStart, banner, bootstrap
from baas.core.restarts import RestartPolicy
from baas.parent_death import exit_with_parent
from baas.settings import Settings, env_name
from baas.store.connection import verify_store
from baas.store.embedded import EmbeddedValkey, StoreLocked

CHILD_STOP_SECONDS = 10.0
SUPERVISION_TICK_SECONDS = 0.1

log = logging.getLogger("baas.run")


class Child(Protocol):
    """A process ``baas run`` keeps running."""

    name: str

    def exit_status(self) -> int | None: ...

    def restart(self) -> None: ...


class ServiceProcess:
    """A ``baas gateway`` or ``baas worker`` child, in its own process group (a Ctrl-C reaches
    only the supervisor, which stops the children in order)."""

    def __init__(self, name: str, env: dict[str, str]) -> None:
        self.name = name
        self.env = env
        self.process = self._spawn()

    def _spawn(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "baas.cli.main", self.name],
            env=self.env,
            process_group=0,
            preexec_fn=exit_with_parent(),
        )

    def exit_status(self) -> int | None:
        return self.process.poll()

    def restart(self) -> None:
        self.process = self._spawn()

    def terminate(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait_or_kill(self, deadline: float) -> None:
        try:
            self.process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass
class StoreProcess:
    """The embedded Valkey as a supervised child."""

    store: EmbeddedValkey
    name: str = "store"

    def exit_status(self) -> int | None:
        return self.store.exit_status()

    def restart(self) -> None:
        self.store.restart()


def describe_exit(status: int) -> str:
    if status < 0:
        try:
            return f"killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"killed by signal {-status}"
    return f"exit status {status}"


class Supervisor:
    """Restarts the children that exit, after the policy's backoff."""

    def __init__(self, children: Sequence[Child], policy: RestartPolicy) -> None:
        self.children = children
        self.policy = policy
        self.exits: dict[str, list[float]] = {child.name: [] for child in children}
        self.restart_at: dict[str, float] = {}

    def tend(self, now: float) -> str | None:
        """Notice exits and restart what is due; the reason to stop everything, if any."""
        for child in self.children:
            if child.name in self.restart_at:
                if now >= self.restart_at[child.name]:
                    del self.restart_at[child.name]
                    self._restart(child)
                continue
            status = child.exit_status()
            if status is None:
                continue
            exits = self.exits[child.name] = [*self.policy.recent(self.exits[child.name], now), now]
            delay = self.policy.delay(exits, now)
            if delay is None:
                return (
                    f"the {child.name} exited {len(exits)} times within "
                    f"{self.policy.window:g} s (last: {describe_exit(status)}); stopping everything"
                )
            log.warning(
                f"the {child.name} exited ({describe_exit(status)}); restarting it in {delay:g} s",
                extra={"child": child.name, "exit_status": status, "restart_in": delay},
            )
            self.restart_at[child.name] = now + delay
        return None

    def _restart(self, child: Child) -> None:
        try:
            child.restart()
        except (OSError, RuntimeError) as exc:  # noticed as another exit on the next turn
            log.error(f"the {child.name} did not restart: {exc}", extra={"child": child.name})
            return
        log.info(f"restarted the {child.name}", extra={"child": child.name})


def restart_policy(settings: Settings) -> RestartPolicy:
    return RestartPolicy(
        first_delay=settings.restart_delay_seconds,
        max_delay=settings.restart_max_delay_seconds,
        max_exits=settings.restart_limit,
        window=settings.restart_window_seconds,
    )


def listen_problem(host: str, port: int) -> str | None:
    """Why the gateway could not listen on ``host:port``, if it could not: checked before
    anything is created, so that no other process answers in its place."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return (
                    f"port {port} on {host} is taken by another process (another gateway?): "
                    "stop it, or set BAAS_PORT to a free port"
                )
            return f"cannot listen on {host}:{port}: {exc.strerror or exc}"
    return None


def _wait_healthy(url: str, children: Sequence[Child], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(child.exit_status() is not None for child in children):
            return False
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as response:
            if response.status == 200:
                return True
        time.sleep(0.1)
    return False


def _stop(services: Sequence[ServiceProcess]) -> None:
    deadline = time.monotonic() + CHILD_STOP_SECONDS
    for service in services:
        service.terminate()
    for service in services:
        service.wait_or_kill(deadline)


def run(settings: Settings) -> int:
    stopping = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    problem = listen_problem(settings.host, settings.port)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    if not settings.embedded:
        asyncio.run(verify_store(settings.redis_url, settings))
    with contextlib.ExitStack() as stack:
        env = dict(os.environ)
        children: list[Child] = []
        if settings.embedded:
            try:
                store = stack.enter_context(
                    EmbeddedValkey(settings.data_dir, appendfsync=settings.appendfsync)
                )
            except StoreLocked as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 1
            env[env_name("redis_url")] = store.url
            print(
                f"Embedded Valkey: data in {store.data_dir} "
                f"(append-only, fsync {settings.appendfsync})"
            )
            settings = Settings.from_env(env)
            children.append(StoreProcess(store))
        services = [ServiceProcess(role, env) for role in ("gateway", "worker")]
        children += services
        probe_host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
        try:
            if not _wait_healthy(f"http://{probe_host}:{settings.port}/healthz", children):
                print("error: the gateway did not start; see its log above", file=sys.stderr)
                return 1
            # Only now, with our own gateway answering: a new key is shown as soon as it exists.
            first = asyncio.run(bootstrap(settings))
            text = banner(settings.base_url, first) if isinstance(first, FirstStart) else first
            print(
                f"\nGateway: {settings.base_url}   (Ctrl-C stops everything)\n"
                f"Console: {settings.base_url}/console/   (sign in with the key)\n{text}\n",
                flush=True,
            )
            supervisor = Supervisor(children, restart_policy(settings))
            while not stopping:
                failure = supervisor.tend(time.monotonic())
                if failure:
                    print(f"error: {failure}", file=sys.stderr)
                    return 1
                time.sleep(SUPERVISION_TICK_SECONDS)
            return 0
        finally:
            _stop(services)
    return 0
