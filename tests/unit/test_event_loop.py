"""The suite runs on the event loop the gateway and the workers run on."""

import asyncio


async def test_the_tests_run_on_uvloop() -> None:
    assert type(asyncio.get_running_loop()).__module__.startswith("uvloop")
