"""What every console page shares: the templates, the signed-in check, forms and errors.

A page handler takes the request and the session; ``page`` wraps it so that a request without a
live session goes to the sign-in page, a form without its CSRF token gets 403 (before the handler
runs, so nothing is written), and a refusal is an HTML page with its status, not the API's JSON.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from jinja2 import Environment, FileSystemLoader, select_autoescape
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from baas.core.problems import Problem
from baas.store.ratelimits import Limited
from gateway.body import read_body
from gateway.console.security import CSRF_FIELD, SESSION_COOKIE, check_csrf
from gateway.console.sessions import ConsoleSession, find_session
from gateway.services import services

HERE = Path(__file__).resolve().parent
SIGN_IN = "/console/sign-in"
TOO_MANY = "Too many requests from this address or tenant: wait {seconds} s, then try again."
STORE_AWAY = "The store does not answer: nothing was read or written. Try again in a moment."
TEMPLATES = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)

Handler = Callable[[Request, ConsoleSession], Awaitable[Response]]


def render(
    request: Request,
    template: str,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    html = TEMPLATES.get_template(template).render(request=request, **context)
    return HTMLResponse(html, status, headers=headers)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, 303)


def error_page(request: Request, problem: Problem, session: ConsoleSession | None) -> Response:
    return render(
        request,
        "error.html",
        problem.status,
        problem.headers or None,
        problem=problem,
        session=session,
    )


def too_many(request: Request, limited: Limited) -> Problem:
    """The 429 of a limit reached, counted as the API counts it, with the wait."""
    services(request).metrics.limited[limited.limiter.value] += 1
    wait = limited.retry_after
    return Problem(429, TOO_MANY.format(seconds=wait), headers={"Retry-After": str(wait)})


async def read_form(request: Request) -> dict[str, str]:
    """An urlencoded form's fields (the first value of each), within BAAS_MAX_BODY_BYTES."""
    body = await read_body(request, services(request).settings.max_body_bytes)
    return dict(reversed(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)))


def page(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        session = None
        try:
            session = await find_session(services(request), request.cookies.get(SESSION_COOKIE, ""))
            if session is None:
                return redirect(SIGN_IN)
            if request.method == "POST":
                request.state.form = await read_form(request)
                check_csrf(request.state.form.get(CSRF_FIELD), session.csrf_token)
            return await handler(request, session)
        except Problem as problem:
            return error_page(request, problem, session)
        except Limited as limited:
            return error_page(request, too_many(request, limited), session)
        except (RedisError, OSError):
            return error_page(request, Problem(503, STORE_AWAY), session)

    return endpoint
