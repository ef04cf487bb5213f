"""Wiring shared by the web app, the worker and the CLI: clock, renderer, transport, passes."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from functools import cached_property

from sqlalchemy import Engine

from app.clock import Clock, make_clock
from app.dunning.service import PassContext, PassReport, run_dunning_pass
from app.mail.transport import MailTransport, transport_from_url
from app.notices.sending import send_pending_notices
from app.settings import Settings

# One pass at a time per process: the scheduler tick and `POST /scheduler/run` may meet.
_pass_lock = threading.Lock()


@dataclass
class Runtime:
    settings: Settings
    engine: Engine

    @cached_property
    def clock(self) -> Clock:
        return make_clock(self.engine, test_clock=self.settings.test_clock)

    def transport(self) -> MailTransport:
        return transport_from_url(self.settings.smtp_url, self.settings.outbox_dir)

    def pass_context(self) -> PassContext:
        return PassContext(
            engine=self.engine,
            clock=self.clock,
            settings=self.settings,
            transport=self.transport(),
        )

    def send_notices_blocking(self) -> None:
        """Send queued confirmations now (after a portal action), unless a pass is running."""
        if not _pass_lock.acquire(blocking=False):
            return  # the running pass sends them
        try:
            context = self.pass_context()

            async def run() -> None:
                async with context.transport:
                    await send_pending_notices(context)

            asyncio.run(run())
        finally:
            _pass_lock.release()

    def run_pass_blocking(self) -> PassReport:
        """Run one dunning pass in this thread with its own event loop (SMTP is async)."""
        with _pass_lock:
            return asyncio.run(run_dunning_pass(self.pass_context()))
