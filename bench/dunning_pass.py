"""How long a dunning pass takes with many invoices of which few are due.

    .venv/bin/python bench/dunning_pass.py [--invoices 50000] [--due 200] [--database-url URL]

Prints the time to find what is due and the time per email sent. The pass should grow with
the number of due invoices, not with the number of invoices stored.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import event, insert

from app.customers.models import Contact, Customer
from app.db import make_engine, migrate, session_scope
from app.dunning import repository
from app.dunning.service import run_dunning_pass
from app.invoices.models import Invoice
from app.organisations.service import ensure_default_organisation
from app.runtime import Runtime
from app.settings import Settings

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)  # a Wednesday, inside the window


def seed(engine, invoices: int, due: int) -> None:  # type: ignore[no-untyped-def]
    with session_scope(engine) as session:
        organisation_id = ensure_default_organisation(session).id
    customers = max(invoices // 5, due)
    with engine.begin() as connection:
        connection.execute(
            insert(Customer),
            [
                {
                    "id": i + 1,
                    "organisation_id": organisation_id,
                    "external_id": f"c{i}",
                    "name": f"Customer {i}",
                    "timezone": "UTC",
                    "tags": [],
                    "created_at": NOW,
                    "updated_at": NOW,
                }
                for i in range(customers)
            ],
        )
        connection.execute(
            insert(Contact),
            [
                {
                    "organisation_id": organisation_id,
                    "customer_id": i + 1,
                    "email": f"ap{i}@c.test",
                    "role": "to",
                    "active": True,
                }
                for i in range(customers)
            ],
        )
        rows = []
        for i in range(invoices):
            is_due = i < due
            rows.append(
                {
                    "organisation_id": organisation_id,
                    # Due invoices go to distinct customers so each is its own email.
                    "customer_id": (i % customers) + 1,
                    "external_id": f"i{i}",
                    "number": f"N-{i}",
                    "currency": "EUR",
                    "amount_total_minor": 10_000,
                    "amount_due_minor": 10_000,
                    "due_on": date(2026, 12, 2) if is_due else date(2027, 3, 1),
                    "status": "open",
                    "reminder_state": "active",
                    "lock_version": 0,
                    "next_action_at": NOW if is_due else datetime(2027, 2, 26, 9, tzinfo=UTC),
                    "next_step": "due_today" if is_due else "upcoming",
                    "created_at": NOW,
                    "updated_at": NOW,
                }
            )
        connection.execute(insert(Invoice), rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--invoices", type=int, default=50_000)
    parser.add_argument("--due", type=int, default=200)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="politely-bench-"))
    url = args.database_url or f"sqlite:///{workdir / 'bench.db'}"
    engine = make_engine(url)
    migrate(engine)
    started = time.perf_counter()
    seed(engine, args.invoices, args.due)
    print(
        f"seeded {args.invoices} invoices ({args.due} due) in {time.perf_counter() - started:.1f} s"
    )

    with session_scope(engine) as session:
        started = time.perf_counter()
        found = repository.due_customer_ids(session, now=NOW, limit=10_000)
        scan_ms = (time.perf_counter() - started) * 1000
    print(f"finding due customers: {len(found)} in {scan_ms:.1f} ms")

    statements = 0

    def count(*_: object) -> None:
        nonlocal statements
        statements += 1

    event.listen(engine, "before_cursor_execute", count)
    settings = Settings(database_url=url, outbox_dir=workdir / "outbox", test_clock=True)
    runtime = Runtime(settings=settings, engine=engine)
    runtime.clock.set(NOW)  # type: ignore[attr-defined]
    started = time.perf_counter()
    report = asyncio.run(run_dunning_pass(runtime.pass_context()))
    elapsed = time.perf_counter() - started
    sent = len(report.sent)
    print(
        f"pass: {sent} emails in {elapsed:.2f} s "
        f"({elapsed / max(sent, 1) * 1000:.1f} ms and {statements / max(sent, 1):.0f} SQL "
        "statements per email)"
    )
    event.remove(engine, "before_cursor_execute", count)
    started = time.perf_counter()
    report = asyncio.run(run_dunning_pass(runtime.pass_context()))
    print(
        f"an idle pass over the same {args.invoices} invoices: "
        f"{(time.perf_counter() - started) * 1000:.1f} ms, {len(report.outcomes)} actions"
    )


if __name__ == "__main__":
    main()
