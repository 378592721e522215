"""Schemathesis against the served ``/openapi.json`` of a live gateway, with a real tenant key
and a real ledger key: every operation, with generated valid (positive) and invalid (negative)
input. Its checks: no 5xx, every status documented, the documented content type, the documented
response schema.

$BAAS_SCHEMATHESIS_EXAMPLES is the number of cases per operation and per mode (default 5: about
300 cases in all, seconds; `.ci/run` sets 50). The cases are derived from the budget, not drawn
at random, so a failure reproduces. Every failing operation is listed, each with the checks that
failed, the case and a curl command reproducing it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import hypothesis
import hypothesis.errors
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.gateway import live_gateway
from tests.support.store import make_settings, new_tenant

pytestmark = pytest.mark.live

EXAMPLES = int(os.environ.get("BAAS_SCHEMATHESIS_EXAMPLES") or 5)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
TIMEOUT = 30
LEDGER_PREFIX = "/api/v1/"


def is_ledger(path: str) -> bool:
    return path.startswith(LEDGER_PREFIX)


def fuzz(
    base: str,
    chosen: Callable[[str], bool],
    headers: dict[str, str],
    path_values: dict[str, str],
) -> list[str]:
    """Run every chosen operation of the served document; the failures, one entry each."""
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    failures = []
    operations = [r.ok() for r in schema.get_all_operations()]
    assert operations
    for operation in operations:
        if not chosen(operation.path):
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            failure = _fuzz_one(operation, mode, base, headers, path_values)
            if failure:
                failures.append(f"{operation.label} [{mode.value}]: {failure}")
    return failures


def _fuzz_one(
    operation: Any,
    mode: GenerationMode,
    base: str,
    headers: dict[str, str],
    path_values: dict[str, str],
) -> str | None:
    session = requests.Session()

    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,  # the same cases on every run of a budget: a failure reproduces
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    def run(case: Any) -> None:
        # The real tenant and strategy, so that cases reach the handlers behind the auth.
        if case.path_parameters:
            for name in case.path_parameters.keys() & path_values.keys():
                case.path_parameters[name] = path_values[name]
        response = case.call(base_url=base, session=session, headers=headers, timeout=TIMEOUT)
        case.validate_response(response, checks=CHECKS)

    try:
        run()
    except hypothesis.errors.Unsatisfiable:
        assert mode is GenerationMode.NEGATIVE, f"{operation.label}: no valid case"
        return None  # nothing of its input can be made invalid (no parameters, or only a path)
    except (Failure, FailureGroup) as failure:  # the checks that failed, the case, its curl
        return str(failure).strip()
    finally:
        session.close()
    return None


def new_strategy(base: str, tenant: Any) -> tuple[str, str]:
    created = requests.post(
        f"{base}/tenants/{tenant.tenant_id}/api/strategies",
        json={"name": "schemathesis"},
        headers={"X-Api-Key": tenant.api_key},
        timeout=TIMEOUT,
    )
    assert created.status_code == 201, created.text
    strategy_id = created.json()["id"]
    key = requests.post(
        f"{base}/strategies/{strategy_id}/api-keys",
        json={"name": "schemathesis"},
        headers={"X-Api-Key": tenant.api_key},
        timeout=TIMEOUT,
    )
    assert key.status_code == 201, key.text
    return strategy_id, key.json()["plaintext"]


@pytest.fixture
def unlimited(store_url: str, prefix: str) -> Any:
    return make_settings(store_url, prefix, ledger_key_limit=1_000_000)


async def test_the_tenant_api_conforms_to_its_document(unlimited, store, prefix) -> None:
    tenant = await new_tenant(store, prefix)
    with live_gateway(unlimited) as base:
        strategy_id, _ = new_strategy(base, tenant)
        failures = fuzz(
            base,
            lambda path: not is_ledger(path),
            {"X-Api-Key": tenant.api_key},
            {"tenantId": tenant.tenant_id, "strategyId": strategy_id},
        )
    assert not failures, "\n\n".join(failures)


async def test_the_ledger_api_conforms_to_its_document(unlimited, store, prefix) -> None:
    tenant = await new_tenant(store, prefix)
    with live_gateway(unlimited) as base:
        strategy_id, key = new_strategy(base, tenant)
        failures = fuzz(
            base,
            is_ledger,
            {"Authorization": f"Bearer {key}"},
            {"strategyId": strategy_id},
        )
    assert not failures, "\n\n".join(failures)
