"""``make bench``: every benchmark, each printed beside a baseline measured in the same run."""

from tests.bench import ingress

if __name__ == "__main__":
    ingress.run()
