"""``make bench``: every benchmark, each printed beside a baseline measured in the same run.

``make bench`` runs them all; ``python -m bench ingress`` (or ``workers``, ``ledger``, ``console``) runs one.
"""

import sys

from bench import console, ingress, ledger_api, ledger_core, workers


def ledger() -> None:
    ledger_core.main()
    ledger_api.main()


BENCHMARKS = {
    "ingress": ingress.run,
    "workers": workers.run,
    "ledger": ledger,
    "console": console.main,
}

if __name__ == "__main__":
    for name in sys.argv[1:] or list(BENCHMARKS):
        BENCHMARKS[name]()
