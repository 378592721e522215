"""The wheel is the whole service: built from the checkout, installed in a fresh virtualenv outside
it, its `baas gateway` answers /readyz and serves the schemas it ships (baas/schemas)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import httpx
import pytest

from tests.cli.processes import clean_env
from tests.support.gateway import free_port
from tests.support.repo import REPO

START_DEADLINE = 30.0
SHIPPED = sorted(p.parent.name for p in (REPO / "schemas").glob("*/*.json"))


def build_wheel(folder: Path) -> Path:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "-w",
            str(folder),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = folder.glob("baas_gateway-*.whl")
    return wheel


def fresh_venv(folder: Path, wheel: Path) -> Path:
    """A virtualenv holding only the wheel; its dependencies are read from this one's
    site-packages, added after the install (so no network is needed, and not this checkout)."""
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    subprocess.run(
        [folder / "bin" / "python", "-m", "pip", "install", "--quiet", "--no-deps", str(wheel)],
        check=True,
        capture_output=True,
    )
    (site,) = (folder / "lib").glob("python*/site-packages")
    (site / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return folder / "bin" / "baas"


@pytest.mark.live
def test_the_installed_wheel_serves_its_schemas(
    tmp_path: Path, store_url: str, prefix: str
) -> None:
    baas = fresh_venv(tmp_path / "venv", build_wheel(tmp_path / "dist"))
    where = subprocess.run(
        [
            baas.parent / "python",
            "-c",
            "import baas, gateway; print(baas.__file__, gateway.__file__)",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert str(REPO) not in where.stdout and str(tmp_path / "venv") in where.stdout

    port = free_port()
    env = clean_env(BAAS_REDIS_URL=store_url, BAAS_KEY_PREFIX=prefix, BAAS_PORT=str(port))
    process = subprocess.Popen([baas, "gateway"], env=env, cwd=tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_DEADLINE
        while True:
            assert process.poll() is None, "the installed gateway exited at start"
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            assert time.monotonic() < deadline, "the installed gateway did not get ready"
            time.sleep(0.2)
        answer = httpx.get(f"{base}/schemas", timeout=5)
        assert answer.status_code == 200
        served = sorted(s["name"] for s in answer.json())
        assert served == SHIPPED and served
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
