"""What runs in the background of `serve` and `worker`: the dunning clock (optional) and the
webhook deliveries (always, so events leave within seconds even with --no-scheduler)."""

from __future__ import annotations

from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from app.dunning.scheduler import tick
from app.runtime import Runtime
from app.webhooks.runner import deliver_due_webhooks

WEBHOOK_SECONDS = 2


def start_background(runtime: Runtime, *, dunning: bool) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone=UTC)
    if dunning:
        scheduler.add_job(
            tick,
            "interval",
            args=[runtime],
            seconds=runtime.settings.tick_seconds,
            next_run_time=datetime.now(UTC),
            max_instances=1,
            coalesce=True,
            id="dunning-pass",
        )
    scheduler.add_job(
        deliver_due_webhooks,
        "interval",
        args=[runtime],
        seconds=WEBHOOK_SECONDS,
        next_run_time=datetime.now(UTC),
        max_instances=1,
        coalesce=True,
        id="webhooks",
    )
    scheduler.start()
    return scheduler
