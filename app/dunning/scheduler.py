"""The dunning tick: APScheduler 3 is only a clock; the database decides what is due."""

from __future__ import annotations

import logging

from anyio import to_thread

from app.runtime import Runtime

log = logging.getLogger("politely.scheduler")


async def tick(runtime: Runtime) -> None:
    # The pass blocks on the database, so it runs in a worker thread, off the web's loop.
    report = await to_thread.run_sync(runtime.run_pass_blocking)
    for outcome in report.outcomes:
        log.info("%s %s %s %s", outcome.result, outcome.invoice, outcome.step, outcome.detail or "")
