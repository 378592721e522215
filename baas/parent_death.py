"""Child processes that end with the process that started them, however it ends.

Linux's parent-death signal (``prctl(PR_SET_PDEATHSIG)``) is set in the child between fork and
exec: a supervisor killed with SIGKILL leaves no orphans holding the port or the data directory.
Elsewhere it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1


def exit_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A ``preexec_fn`` that sends ``sig`` to the child when this process dies (None off Linux).

    SIGTERM, so that the store flushes its append-only file and the services stop cleanly."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    parent = os.getpid()

    def in_child() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os.kill(os.getpid(), sig)

    return in_child
