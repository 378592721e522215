"""Without Chromium, the browser tests are skipped with the way to install it (not failed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.console.browser import INSTALL
from tests.support.repo import REPO


def test_without_chromium_the_browser_tests_say_how_to_install_it() -> None:
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}  # no /usr/bin: no chromium
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-rs",
            "-p",
            "no:cacheprovider",
            "tests/console/test_console_browser.py",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # 5: no test ran (the one module is skipped); in `make test` the others run.
    assert done.returncode == 5, done.stdout + done.stderr
    assert "skipped" in done.stdout and INSTALL in " ".join(done.stdout.split())
