"""Two services on one store, each under its own BAAS_KEY_PREFIX: arq's keys included."""

from __future__ import annotations

import time

import pytest
import redis

from baas.store.embedded import EmbeddedValkey
from tests.support.store import make_settings
from tests.workers.test_crash_safety import start_worker, stop

pytestmark = pytest.mark.live


def test_two_workers_with_their_own_prefixes_write_no_key_outside_them(tmp_path):
    with EmbeddedValkey(tmp_path / "store") as server:
        prefixes = ("svc-a", "svc-b")
        workers = [start_worker(make_settings(server.url, p), 0) for p in prefixes]
        client = redis.Redis.from_url(server.url, decode_responses=True)
        try:
            # Each service's paper-order job runs every 10 s; wait until both have run (arq keeps
            # a cron job's in-progress key for 60 s after it).
            deadline = time.monotonic() + 45
            while time.monotonic() < deadline:
                if all(
                    any(client.scan_iter(match=f"{p}:arq:in-progress:cron:expire_paper_orders:*"))
                    for p in prefixes
                ):
                    break
                assert all(w.poll() is None for w in workers), "a worker exited"
                time.sleep(0.2)
            keys = sorted(client.scan_iter(count=1000))
        finally:
            for worker in workers:
                stop(worker)
            client.close()
    assert [k for k in keys if not k.startswith(("svc-a:", "svc-b:"))] == []
    for prefix in prefixes:
        assert f"{prefix}:arq:queue:health-check" in keys
        run = f"{prefix}:arq:in-progress:cron:expire_paper_orders:"
        assert any(k.startswith(run) for k in keys)
