"""Outgoing webhooks that fail: backoff, giving up, disabling an endpoint, claims by workers."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, text
from sqlmodel import select

from app.db import session_scope
from app.webhooks.outbound import JITTER, MAX_ATTEMPTS, RETRY_WINDOW, delay_after, jittered_delay
from app.webhooks.runner import claim_due
from app.worklist.models import WorklistItem
from tests.conftest import Api
from tests.webhooks.support import (
    Receiver,
    add_endpoint,
    deliver,
    deliveries,
    make_retries_due,
    receiver,
    runtime_of,
    send_a_reminder,
)

__all__ = ["receiver"]  # the fixture


def test_an_endpoint_failing_for_three_days_is_disabled_and_flagged(
    api: Api, receiver: Receiver, db: Engine
) -> None:
    endpoint = add_endpoint(api, receiver.url(), ["*"])
    receiver.status = 500
    send_a_reminder(api)
    deliver(api)
    assert api.get("/webhook-endpoints").json()[0]["status"] == "failing"
    with db.begin() as connection:  # stand in for three days of failures
        connection.execute(
            text("UPDATE webhook_endpoint SET failing_since = :at"),
            {"at": (datetime.now(UTC) - timedelta(days=3, minutes=1)).replace(tzinfo=None)},
        )
    make_retries_due(db)
    assert deliver(api) == 2  # invoice.created and reminder.sent, failing together
    [listed] = api.get("/webhook-endpoints").json()
    assert listed["status"] == "disabled" and "HTTP 500" in listed["disabled_reason"]
    logs = deliveries(api, endpoint)
    assert {(log["status"], log["next_attempt_at"]) for log in logs} == {("failed", None)}
    receiver.status = 200
    api.post("/invoices/inv-1001/payments", {"external_id": "p1", "amount": "1250.00"})
    make_retries_due(db)
    assert deliver(api) == 0  # disabled: new events are not queued for it
    assert len(deliveries(api, endpoint)) == 2
    with session_scope(db) as session:
        found = session.exec(select(WorklistItem).where(WorklistItem.kind == "webhook_disabled"))
        items = list(found.all())
        assert len(items) == 1 and receiver.url() in items[0].reason


def test_a_delivery_gives_up_after_its_last_retry(api: Api, receiver: Receiver, db: Engine) -> None:
    endpoint = add_endpoint(api, receiver.url(), ["reminder.sent"])
    receiver.status = 503
    send_a_reminder(api)
    with db.begin() as connection:
        connection.execute(
            text("UPDATE webhook_delivery SET attempts = :n"), {"n": MAX_ATTEMPTS - 1}
        )
    deliver(api)
    [log] = deliveries(api, endpoint)
    assert log["status"] == "failed" and log["attempts"] == MAX_ATTEMPTS
    assert log["last_status_code"] == 503 and log["next_attempt_at"] is None


def test_retries_cover_at_least_24_hours_with_growing_jittered_delays() -> None:
    shortest = sum((delay_after(n) for n in range(1, MAX_ATTEMPTS)), timedelta())
    assert shortest >= RETRY_WINDOW
    assert shortest - delay_after(MAX_ATTEMPTS - 1) < RETRY_WINDOW  # no more than needed
    delays = [delay_after(n) for n in range(1, MAX_ATTEMPTS)]
    assert delays == sorted(delays) and delays[0] == timedelta(seconds=5)
    samples = {jittered_delay(3) for _ in range(50)}
    assert len(samples) > 1 and all(
        delay_after(3) <= s <= delay_after(3) * (1 + JITTER) for s in samples
    )


@pytest.mark.postgres_only
def test_workers_on_postgres_never_claim_the_same_delivery(
    api: Api, receiver: Receiver, db: Engine
) -> None:
    add_endpoint(api, receiver.url("/a"), ["*"])
    add_endpoint(api, receiver.url("/b"), ["*"])
    add_endpoint(api, receiver.url("/c"), ["*"])
    send_a_reminder(api)
    runtime = runtime_of(api)
    with db.connect() as holder:  # another worker mid-claim holds one row
        held = holder.execute(
            text("SELECT id FROM webhook_delivery ORDER BY id LIMIT 1 FOR UPDATE")
        ).scalar_one()
        claims: list[list[int]] = []
        threads = [
            threading.Thread(
                target=lambda: claims.append([c.delivery_id for c in claim_due(runtime)])
            )
            for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        holder.rollback()
    taken = [delivery for claim in claims for delivery in claim]
    assert len(claims) == 4 and held not in taken  # skipped, not waited for
    assert len(taken) == len(set(taken)) and len(taken) > 0


def test_endpoints_inside_the_network_are_refused_without_the_development_switch(
    api,
    db,
    settings,  # type: ignore[no-untyped-def]
) -> None:
    from fastapi.testclient import TestClient

    from app.main import create_app

    strict = settings.model_copy(update={"allow_private_webhooks": False})
    with TestClient(create_app(strict, engine=db), base_url="https://politely.test") as client:
        headers = {"Authorization": f"Bearer {api.key}"}
        for url in (
            "http://127.0.0.1:9/hook",
            "http://169.254.169.254/latest/meta-data",
            "http://10.1.2.3/x",
            "http://localhost:8000/x",
        ):
            refused = client.post(
                "/api/v1/webhook-endpoints", headers=headers, json={"url": url, "events": ["*"]}
            )
            assert refused.status_code == 422, url
            assert refused.json()["detail"][0]["loc"][-1] == "url"
        assert client.get("/api/v1/webhook-endpoints", headers=headers).json() == []
