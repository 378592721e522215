"""``python -m tests.ledger.serve``: the gateway process with the ledger routes (as `baas gateway`
serves once gateway.app lists them)."""

from __future__ import annotations

import uvicorn

from baas import logs
from baas.settings import Settings
from tests.ledger.support import ledger_app


def main() -> None:
    settings = Settings.from_env()
    logs.configure(settings.log_level)
    uvicorn.Server(
        uvicorn.Config(
            ledger_app(settings),
            host=settings.host,
            port=settings.port,
            loop="uvloop",
            http="httptools",
            lifespan="on",
            access_log=False,
            log_config=None,
            server_header=False,
            proxy_headers=False,
        )
    ).run()


if __name__ == "__main__":
    main()
