"""The web console at ``/console``: server-rendered pages (Jinja2) signed in with an API key.

Its routes are mounted under one prefix with the security headers (``security.ConsoleHeaders``)
on every response; its static files are its own (no third-party origin).
"""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from gateway.console import alerts, brokers, charts, ledger, pages
from gateway.console.security import ConsoleHeaders
from gateway.console.shell import HERE

CONSOLE = Mount(
    "/console",
    routes=[
        Route("/", pages.overview, methods=["GET"]),
        Route("/sign-in", pages.sign_in, methods=["GET", "POST"]),
        Route("/sign-out", pages.sign_out, methods=["POST"]),
        Route("/signals", pages.signals, methods=["GET"]),
        Route("/signals.json", pages.latest_signals, methods=["GET"]),
        Route("/signals/{signalId}", pages.signal, methods=["GET"]),
        Route("/alerts", alerts.alerts, methods=["GET"]),
        Route("/alerts", alerts.create_alert, methods=["POST"]),
        Route("/alerts/new", alerts.new_alert, methods=["GET"]),
        Route("/alerts/{alertId}", alerts.alert, methods=["GET"]),
        Route("/alerts/{alertId}", alerts.update_alert, methods=["POST"]),
        Route("/alerts/{alertId}/test", alerts.test_alert, methods=["POST"]),
        Route("/brokers", brokers.brokers, methods=["GET"]),
        Route("/brokers", brokers.configure_broker, methods=["POST"]),
        Route("/brokers/{brokerId}/remove", brokers.remove_broker, methods=["POST"]),
        Route("/paper/{brokerId}", brokers.paper_account, methods=["GET"]),
        Route("/ledger", ledger.strategies, methods=["GET"]),
        Route("/ledger", ledger.create_strategy, methods=["POST"]),
        Route("/ledger/{strategyId}", ledger.strategy, methods=["GET"]),
        Route("/ledger/{strategyId}/nav.json", ledger.nav_points, methods=["GET"]),
        Route("/ledger/{strategyId}/keys", ledger.create_key, methods=["POST"]),
        Route("/keys", pages.keys, methods=["GET"]),
        Route("/keys", pages.create_key, methods=["POST"]),
        Route("/keys/{keyId}/revoke", pages.revoke_key, methods=["POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="console-static"),
        Route("/vendor/lightweight-charts.js", charts.script, methods=["GET"]),
    ],
    middleware=[Middleware(ConsoleHeaders)],
)
