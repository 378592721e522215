"""Every ```sh block of README.md and docs/*.md runs, as pasted, against a live ``baas run``.

The blocks of one document run in one bash session (``set -euo pipefail``), in document order, so
a later block may use what an earlier one set (a strategy's id). The session starts where a user
starts after ``make run``: ``TENANT_ID`` and ``API_KEY`` exported from the first start's banner.
The docs' base URL is rewritten to the test's port and ``.venv/bin/baas`` to this suite's
``baas``. A read answered 404 (the worker has not recorded it yet) is tried again for up to 30 s,
as a user looks again. A curl answered 4xx or 5xx fails its block unless the doc promises that status in a
``# <status> [<json>]`` comment after it; a promised JSON value must be found in the answer. A block
marked ``<!-- not run: reason -->`` is reported as skipped with its reason."""

from __future__ import annotations

import json
import shlex
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cli.processes import BAAS, FIRST_START, baas_run, clean_env, first_start
from tests.docs.snippets import DOCS_BASE_URL, DOCUMENTS, ROOT, Block, blocks, contains
from tests.support.gateway import free_port

SESSION_TIMEOUT = 300
READ_WAITS = 60  # half seconds a read answered 404 is tried again (the worker is late)
# the snippets of every document share one service and one client address
GENEROUS_LIMITS = {"BAAS_IP_LIMIT": "100000", "BAAS_TENANT_WRITE_LIMIT": "100000"}

PRELUDE = r"""set -euo pipefail
shopt -s inherit_errexit
curl() {
  local dir="$SNIPPET_CALLS/$SNIPPET_BLOCK" n
  mkdir -p "$dir"
  n=$(find "$dir" -name '*.status' | wc -l)
  local waits=0
  while :; do
    command curl -sS -o "$dir/$n.body" -w '%{http_code}' "$@" > "$dir/$n.status"
    # a read before the worker's turn: look again, as a user would
    [[ $(<"$dir/$n.status") == 404 && " $* " != *" -X "* && $waits -lt $READ_WAITS ]] || break
    waits=$((waits + 1))
    sleep 0.5
  done
  cat "$dir/$n.body"
  echo
}
"""


@dataclass(frozen=True)
class Service:
    base_url: str
    env: dict[str, str]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    home = tmp_path_factory.mktemp("snippets")
    port = free_port()
    settings = {"BAAS_DATA_DIR": str(home / "var"), "BAAS_PORT": str(port), **GENEROUS_LIMITS}
    with baas_run(clean_env(**settings), home) as run:
        tenant_id, api_key = first_start(run.wait_for(lambda out: bool(FIRST_START.search(out))))
        env = clean_env(**settings, TENANT_ID=tenant_id, API_KEY=api_key)
        yield Service(f"http://127.0.0.1:{port}", env)


def as_run_here(block: Block, base_url: str) -> str:
    return block.text.replace(DOCS_BASE_URL, base_url).replace(".venv/bin/baas", shlex.join(BAAS))


def session_script(runnable: list[Block], base_url: str) -> str:
    parts = [PRELUDE]
    for number, block in enumerate(runnable):
        parts.append(f'SNIPPET_BLOCK={number}; echo {number} > "$SNIPPET_CALLS/current"')
        parts.append(as_run_here(block, base_url))
    return "\n".join(parts) + "\n"


def calls_of(directory: Path) -> list[tuple[int, str]]:
    """(status, body) of each curl call of a block, in order."""
    count = len(list(directory.glob("*.status")))
    return [
        (int((directory / f"{n}.status").read_text()), (directory / f"{n}.body").read_text())
        for n in range(count)
    ]


def check_answers(block: Block, calls: list[tuple[int, str]]) -> list[str]:
    promised = {answer.call: answer for answer in block.answers}
    problems = []
    for index, (status, body) in enumerate(calls):
        answer = promised.get(index)
        if answer is None:
            if status >= 400:
                problems.append(f"call {index + 1} answered {status}: {body}")
            continue
        if status != answer.status:
            problems.append(f"call {index + 1} answered {status}, not {answer.status}: {body}")
        elif answer.body is not None and not contains(json.loads(body), answer.body):
            problems.append(f"call {index + 1} answered {body}, without {answer.body}")
    missing = [a for a in block.answers if a.call >= len(calls)]
    problems += [f"no call {a.call + 1} for the answer {a.status}" for a in missing]
    return problems


RUNNABLE = {doc: [b for b in blocks(doc) if b.not_run is None] for doc in DOCUMENTS}
NOT_RUN = [block for doc in DOCUMENTS for block in blocks(doc) if block.not_run is not None]


@pytest.mark.live
@pytest.mark.parametrize(
    "document",
    [doc for doc, runnable in RUNNABLE.items() if runnable],
    ids=lambda doc: str(doc.relative_to(ROOT)),
)
def test_the_snippets_of_a_document_run_as_pasted(
    document: Path, service: Service, tmp_path: Path
) -> None:
    runnable = RUNNABLE[document]
    calls = tmp_path / "calls"
    calls.mkdir()
    done = subprocess.run(
        ["bash", "-c", session_script(runnable, service.base_url)],
        env={**service.env, "SNIPPET_CALLS": str(calls), "READ_WAITS": str(READ_WAITS)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=SESSION_TIMEOUT,
        check=False,
    )
    reached = int((calls / "current").read_text()) if (calls / "current").exists() else 0
    if done.returncode != 0:
        block = runnable[reached]
        pytest.fail(
            f"{block.where} exited {done.returncode}:\n{block.text}\n"
            f"--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}"
        )
    problems = [
        f"{block.where}: {problem}"
        for number, block in enumerate(runnable)
        for problem in check_answers(block, calls_of(calls / str(number)))
    ]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("block", NOT_RUN, ids=lambda block: block.where)
def test_a_snippet_that_cannot_run_here_says_why(block: Block) -> None:
    assert block.not_run, f"{block.where}: say why it does not run"
    pytest.skip(f"{block.where}: {block.not_run}")
