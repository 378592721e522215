"""The examples the suite runs are the published descriptions' own: the stored copies
(tests/support/spec_examples) match what is read out of the documents, when the documents are
present beside the repository (``../shared/spec``) or named by $BAAS_SPEC_FILE/$LEDGER_SPEC_FILE.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support.repo import REPO
from tests.support.spec_documents import DOCUMENTS, SpecDocument


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda d: d.name)
def test_the_stored_examples_are_the_document_s(document: SpecDocument) -> None:
    if not document.path.is_file():
        pytest.skip(f"{document.path} is absent (set ${document.variable} to check against it)")
    assert document.stored_examples() == document.extract(document.path.read_text()), (
        f"{document.examples_file} differs from {document.path}: "
        "rewrite it with `python -m tests.support.spec_documents` and review the diff"
    )


def test_the_examples_need_no_document(tmp_path) -> None:
    """A clone without ``../shared`` runs the spec-example tests: reading every example
    touches no document."""
    program = "\n".join(
        [
            "from tests.support import spec",
            "from tests.ledger import spec as ledger",
            "spec.curl_commands(), spec.python_example(), spec.retry_after_snippet()",
            "spec.schema_listing(), spec.fill_trade_example('t', 'a', 'b', 's')",
            "ledger.quick_start_curl(), ledger.python_example(), ledger.idempotency_bodies()",
            "ledger.example('key_response'), ledger.performance_keys(), ledger.detail_examples()",
        ]
    )
    absent = {d.variable: str(tmp_path / f"{d.name}.txt") for d in DOCUMENTS}
    done = subprocess.run(
        [sys.executable, "-c", program],
        cwd=REPO,
        env={**os.environ, **absent},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
