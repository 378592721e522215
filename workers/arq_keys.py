"""arq's own keys under ``BAAS_KEY_PREFIX``.

arq names a job's keys from module constants, not from its options: ``arq:job:<id>``,
``arq:in-progress:<id>``, ``arq:retry:<id>``, ``arq:result:<id>`` and the ``arq:abort`` set (only
the queue and its health-check key follow ``queue_name``). Two services on one Redis would share
them, and with them their cron jobs' ids (``cron:expire_paper_orders:<time>``): one service's run
would take the other's turn. A worker process serves one prefix, so it points arq's names at it
once, before arq starts.
"""

from __future__ import annotations

import arq.connections
import arq.jobs
import arq.worker

_KEY_NAMES = {
    "job_key_prefix": "job:",
    "in_progress_key_prefix": "in-progress:",
    "retry_key_prefix": "retry:",
    "result_key_prefix": "result:",
    "abort_jobs_ss": "abort",
}


def arq_keys_under(key_prefix: str) -> None:
    """Every key arq writes in this process starts with ``<key_prefix>:arq:``."""
    for module in (arq.connections, arq.jobs, arq.worker):
        for name, suffix in _KEY_NAMES.items():
            if hasattr(module, name):
                setattr(module, name, f"{key_prefix}:arq:{suffix}")
