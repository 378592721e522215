"""``make bench``: every benchmark, each printed beside a baseline measured in the same run.

``make bench`` runs them all; ``python -m tests.bench ingress`` (or ``workers``) runs one.
"""

import sys

from tests.bench import ingress, workers

BENCHMARKS = {"ingress": ingress.run, "workers": workers.run}

if __name__ == "__main__":
    for name in sys.argv[1:] or list(BENCHMARKS):
        BENCHMARKS[name]()
