"""``baas store check [--fix]``: is the embedded store's append-only file whole, and if not, what
is damaged and what cutting it would lose."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from baas.settings import Settings
from baas.store import aof_files
from baas.store.embedded import StoreLocked, lock_data_dir


def store_check(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.embedded:
        print(
            "error: BAAS_REDIS_URL is set: that server keeps its own files "
            "(check them with its valkey-check-aof or redis-check-aof)",
            file=sys.stderr,
        )
        return 1
    data_dir = settings.data_dir
    if not aof_files.parts(data_dir):
        print(f"{data_dir}: no append-only file yet")
        return 0
    try:
        lock = lock_data_dir(data_dir)
    except StoreLocked as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        return _check(data_dir, fix=args.fix)
    finally:
        os.close(lock)


def _check(data_dir: Path, *, fix: bool) -> int:
    finding = aof_files.check(data_dir, thorough=True)
    if finding is None:
        print(f"{data_dir}: the append-only file is whole")
        return 0
    if not (fix and finding.fixable):
        print(f"{finding.describe()}: {finding.remedy()}")
        return 1
    backup = aof_files.cut(data_dir, finding)
    print(
        f"{finding.describe()}: cut at byte {finding.cut_at} "
        f"({finding.lost_bytes} bytes removed; the part as it was is in {backup})"
    )
    after = aof_files.check(data_dir, thorough=True)
    if after is not None:
        print(f"{after.describe()}: {after.remedy()}")
        return 1
    print(f"{data_dir}: the append-only file is whole")
    return 0
