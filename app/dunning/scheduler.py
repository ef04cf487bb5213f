"""APScheduler 3 as a clock only: every tick runs a pass; the database decides what is due."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from anyio import to_thread
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from app.runtime import Runtime

log = logging.getLogger("politely.scheduler")


async def tick(runtime: Runtime) -> None:
    # The pass blocks on the database, so it runs in a worker thread, off the web's loop.
    report = await to_thread.run_sync(runtime.run_pass_blocking)
    for outcome in report.outcomes:
        log.info("%s %s %s %s", outcome.result, outcome.invoice, outcome.step, outcome.detail or "")


def start_scheduler(runtime: Runtime) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone=UTC)
    scheduler.add_job(
        tick,
        "interval",
        args=[runtime],
        seconds=runtime.settings.tick_seconds,
        next_run_time=datetime.now(UTC),
        max_instances=1,  # a slow pass is never overlapped by the next tick
        coalesce=True,  # ticks missed while busy collapse into one
        id="dunning-pass",
    )
    scheduler.start()
    return scheduler
