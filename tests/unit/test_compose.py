"""`docker compose up -d` starts with no variable set; IB Gateway's credentials are needed only
with compose.ibkr.yaml (compose interpolates every service of every file, profiles or not)."""

from __future__ import annotations

from tests.support.compose import load
from tests.support.repo import REPO

PLAIN = [REPO / "compose.yaml"]
WITH_IBKR = [REPO / "compose.yaml", REPO / "compose.ibkr.yaml"]
CREDENTIALS = {"TWS_USERID": "paper-user", "TWS_PASSWORD": "secret"}


def test_the_plain_start_needs_no_variable() -> None:
    project, interpolation = load(PLAIN, env={})
    assert interpolation.required == {}
    assert interpolation.blanked == set()
    assert set(project["services"]) == {"redis", "gateway", "worker"}
    for service in project["services"].values():
        assert set(service.get("depends_on", {})) <= set(project["services"])


def test_ib_gateway_needs_its_credentials() -> None:
    _, interpolation = load(WITH_IBKR, env={})
    assert set(interpolation.required) == set(CREDENTIALS)
    _, interpolation = load(WITH_IBKR, env={"TWS_USERID": "", "TWS_PASSWORD": ""})
    assert set(interpolation.required) == set(CREDENTIALS)


def test_with_ib_gateway_the_worker_waits_for_it() -> None:
    project, interpolation = load(WITH_IBKR, env=CREDENTIALS)
    assert interpolation.required == {}
    assert interpolation.blanked == set()
    services = project["services"]
    assert services["ib-gateway"]["environment"]["TWS_USERID"] == "paper-user"
    assert services["ib-gateway"]["environment"]["AUTO_RESTART_TIME"] == "11:59 PM"
    assert services["worker"]["command"] == ["baas", "worker"]
    assert services["worker"]["depends_on"] == {
        "redis": {"condition": "service_healthy"},
        "ib-gateway-ready": {"condition": "service_completed_successfully"},
    }


def test_env_example_names_every_variable_of_ib_gateway() -> None:
    example = (REPO / ".env.example").read_text()
    names = {line.split("=", 1)[0] for line in example.splitlines() if "=" in line}
    _, interpolation = load([REPO / "compose.ibkr.yaml"], env={})
    assert set(interpolation.required) <= names
