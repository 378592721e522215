"""What `make run` and `make test` would install (``make -n``: nothing is run), from a fresh
virtualenv and after each other."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support.repo import REPO

RUN_INSTALL = "pip install --quiet -e .\n"
DEV_INSTALL = "pip install --quiet -e '.[dev]'"


def planned(target: str, venv: Path) -> str:
    """The commands `make <target>` would run with this virtualenv."""
    done = subprocess.run(
        ["make", "-n", "-C", str(REPO), target, f"VENV={venv}"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout


@pytest.fixture
def venv(tmp_path: Path) -> Path:
    """A virtualenv that exists (its python), with nothing of ours installed yet."""
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "python").touch()
    return tmp_path


def installed(venv: Path, plan: str) -> None:
    """Do what the plan's stamps say: touch each stamp the plan touches, newer than
    pyproject.toml."""
    newer = (REPO / "pyproject.toml").stat().st_mtime + 1
    for line in plan.splitlines():
        if line.startswith("touch "):
            for stamp in line.split()[1:]:
                Path(stamp).touch()
                os.utime(stamp, (newer, newer))


def test_run_installs_only_what_the_service_needs(venv: Path) -> None:
    plan = planned("run", venv)
    assert RUN_INSTALL in plan
    assert DEV_INSTALL not in plan


def test_test_adds_the_test_extras_after_run(venv: Path) -> None:
    installed(venv, planned("run", venv))
    assert "pip install" not in planned("run", venv)
    assert DEV_INSTALL in planned("test", venv)


def test_run_after_test_installs_nothing(venv: Path) -> None:
    installed(venv, planned("test", venv))
    assert "pip install" not in planned("test", venv)
    assert "pip install" not in planned("run", venv)
