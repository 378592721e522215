"""The baseline of the workers benchmark: an arq worker with arq's default settings whose job
records when it started. Usage: python -m bench.arq_baseline REDIS_URL PREFIX"""

from __future__ import annotations

import sys
import time
from typing import Any

from arq.connections import RedisSettings
from arq.worker import Worker

URL, PREFIX = sys.argv[1], sys.argv[2]


async def received(ctx: dict[str, Any], job_id: str) -> None:
    await ctx["redis"].hset(f"{PREFIX}:arq-bench:received", job_id, repr(time.time()))


if __name__ == "__main__":
    Worker(
        functions=[received],
        redis_settings=RedisSettings.from_dsn(URL),
        queue_name=f"{PREFIX}:arq-bench",
        max_jobs=1000,
    ).run()
