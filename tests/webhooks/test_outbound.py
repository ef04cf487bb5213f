"""Event webhooks out: a real local receiver, Standard Webhooks signatures, retries, tenancy."""

from __future__ import annotations

import ast
import asyncio
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlmodel import select
from standardwebhooks.webhooks import Webhook

from app.db import session_scope
from app.main import create_app
from app.runtime import Runtime
from app.settings import Settings
from app.webhooks.outbound import (
    JITTER,
    KNOWN_KINDS,
    MAX_ATTEMPTS,
    RETRY_WINDOW,
    delay_after,
    jittered_delay,
)
from app.webhooks.runner import claim_due, close_shared_client, deliver_due_webhooks
from app.worklist.models import WorklistItem
from tests.conftest import CUSTOMER, Api, Inbox, api_key_for, free_port, invoice_body

LONDON = ZoneInfo("Europe/London")
DESIGN_KINDS = """reminder.sent reminder.failed reply.received link.clicked promise.created
promise.kept promise.broken plan.created dispute.opened dispute.resolved payment.received
invoice.paid invoice.escalated invoice.paused invoice.resumed contact.bounced
contact.unsubscribed note.added""".split()


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def payload(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 that records every POST and answers `status`."""

    port: int = field(default_factory=free_port)
    status: int = 200
    requests: list[Received] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    def url(self, path: str = "/events") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.requests.append(Received(self.path, headers, body))
                self.send_response(receiver.status)
                self.send_header("content-type", "text/plain")
                self.end_headers()
                self.wfile.write(b"thanks" if receiver.status < 300 else b"broken inside")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Down: connections are refused."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def of_type(self, kind: str) -> list[Received]:
        return [r for r in self.requests if r.payload()["type"] == kind]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.start()
    yield receiver
    receiver.stop()


def runtime_of(api: Api) -> Runtime:
    app = api.client.app
    assert isinstance(app, FastAPI)
    runtime: Runtime = app.state.runtime
    return runtime


def deliver(api: Api) -> int:
    """One pass of the background job, as `serve` and `worker` run it every 2 seconds."""
    runtime = runtime_of(api)

    async def once() -> int:
        try:
            return await deliver_due_webhooks(runtime)
        finally:
            await close_shared_client()

    return asyncio.run(once())


def make_retries_due(db: Engine) -> None:
    """Stand in for waiting: every pending delivery's next attempt is now."""
    with db.begin() as connection:
        connection.execute(
            text("UPDATE webhook_delivery SET next_attempt_at = :at WHERE status = 'pending'"),
            {"at": (datetime.now(UTC) - timedelta(seconds=1)).replace(tzinfo=None)},
        )


def add_endpoint(api: Api, url: str, events: list[str] | None = None) -> dict[str, Any]:
    response = api.post("/webhook-endpoints", {"url": url, "events": events or ["*"]})
    assert response.status_code == 201, response.text
    return dict(response.json())


def send_a_reminder(api: Api, invoice: str = "inv-1001") -> None:
    """An invoice due in three days: the scheduler sends the `upcoming` reminder now."""
    api.set_clock(datetime(2026, 11, 23, 10, 0, tzinfo=LONDON))
    assert api.put("/customers/bakery", CUSTOMER).status_code in (200, 201)
    assert api.put(f"/invoices/{invoice}", invoice_body(due_on="2026-11-26")).status_code == 201
    report = api.run_scheduler()
    assert [o["result"] for o in report["outcomes"]] == ["sent"], report


def verified(received: Received, secret: str) -> Any:
    """What the official standardwebhooks library makes of the request (raises if forged)."""
    return Webhook(secret).verify(received.body, received.headers)


def deliveries(api: Api, endpoint: dict[str, Any]) -> list[dict[str, Any]]:
    response = api.get(f"/webhook-endpoints/{endpoint['id']}/deliveries")
    assert response.status_code == 200, response.text
    return list(response.json())


def test_a_reminder_sent_arrives_signed_and_verifies(
    api: Api, receiver: Receiver, inbox: Inbox
) -> None:
    endpoint = add_endpoint(api, receiver.url(), ["reminder.sent"])
    assert endpoint["secret"].startswith("whsec_") and endpoint["status"] == "active"
    send_a_reminder(api)
    assert len(inbox.mails) == 1
    assert deliver(api) == 1
    [request] = receiver.requests
    payload = verified(request, endpoint["secret"])
    assert payload["type"] == "reminder.sent"
    assert payload["data"]["invoice"] == "inv-1001"
    assert payload["data"]["customer"] == "bakery"
    assert payload["data"]["actor"] == "scheduler"
    assert payload["data"]["step"] == "upcoming"
    assert payload["timestamp"] == payload["data"]["at"] == "2026-11-23T10:00:00Z"
    assert request.headers["webhook-id"].startswith("msg_")
    assert request.headers["content-type"] == "application/json"
    with pytest.raises(Exception, match="[Ss]ignature"):
        verified(request, "whsec_" + "A" * 32)  # another secret does not verify
    [log] = deliveries(api, endpoint)
    assert log["status"] == "delivered" and log["last_status_code"] == 200
    assert [a["status_code"] for a in log["log"]] == [200]
    assert log["log"][0]["response_excerpt"] == "thanks"
    assert deliver(api) == 0  # nothing sent twice


def test_serve_delivers_on_its_own_within_seconds_even_without_the_dunning_clock(
    db: Engine, settings: Settings, receiver: Receiver
) -> None:
    app = create_app(settings, engine=db, run_background=True, run_scheduler=False)
    with TestClient(app, base_url="https://politely.test") as client:
        api = Api(client=client, key=api_key_for(db, "default"), slug="default")
        endpoint = add_endpoint(api, receiver.url(), ["invoice.created"])
        api.set_clock(datetime(2026, 11, 23, 10, 0, tzinfo=LONDON))
        api.put("/customers/bakery", CUSTOMER)
        api.put("/invoices/inv-1001", invoice_body(due_on="2026-11-26"))
        deadline = time.monotonic() + 10
        while not receiver.requests and time.monotonic() < deadline:
            time.sleep(0.1)
    [request] = receiver.requests
    assert verified(request, endpoint["secret"])["data"]["invoice"] == "inv-1001"


def test_the_secret_is_shown_once(api: Api, receiver: Receiver) -> None:
    add_endpoint(api, receiver.url())
    [listed] = api.get("/webhook-endpoints").json()
    assert "secret" not in listed and listed["url"] == receiver.url()


def test_a_receiver_down_for_a_while_gets_it_when_it_comes_back(
    api: Api, receiver: Receiver, inbox: Inbox, db: Engine
) -> None:
    endpoint = add_endpoint(api, receiver.url(), ["reminder.sent"])
    receiver.stop()
    send_a_reminder(api)
    assert len(inbox.mails) == 1  # the reminder left regardless
    assert deliver(api) == 1
    [log] = deliveries(api, endpoint)
    assert log["status"] == "pending" and log["last_status_code"] is None
    assert "Connect" in log["last_error"]
    wait = datetime.fromisoformat(log["next_attempt_at"]) - datetime.now(UTC)
    assert timedelta(seconds=3) < wait <= timedelta(seconds=5 * (1 + JITTER) + 1)
    assert deliver(api) == 0  # not due yet: backoff
    assert api.get("/webhook-endpoints").json()[0]["status"] == "failing"

    receiver.status = 500
    receiver.start()
    make_retries_due(db)
    assert deliver(api) == 1
    [log] = deliveries(api, endpoint)
    assert log["status"] == "pending" and log["last_status_code"] == 500
    assert log["log"][0]["response_excerpt"] == "broken inside"

    receiver.status = 200
    make_retries_due(db)
    assert deliver(api) == 1
    [log] = deliveries(api, endpoint)
    assert log["status"] == "delivered" and log["attempts"] == 3
    assert [a["status_code"] for a in log["log"]] == [200, 500, None]
    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert verified(second, endpoint["secret"])["type"] == "reminder.sent"
    assert api.get("/webhook-endpoints").json()[0]["status"] == "active"


def test_redeliver_sends_it_again_with_the_same_id(api: Api, receiver: Receiver) -> None:
    endpoint = add_endpoint(api, receiver.url(), ["reminder.sent"])
    send_a_reminder(api)
    deliver(api)
    [log] = deliveries(api, endpoint)
    again = api.post(f"/webhook-endpoints/{endpoint['id']}/deliveries/{log['id']}/redeliver")
    assert again.status_code == 202 and again.json()["status"] == "pending"
    assert deliver(api) == 1
    first, second = receiver.requests
    assert second.headers["webhook-id"] == first.headers["webhook-id"]
    assert verified(second, endpoint["secret"]) == verified(first, endpoint["secret"])
    assert deliveries(api, endpoint)[0]["status"] == "delivered"
    missing = api.post(f"/webhook-endpoints/{endpoint['id']}/deliveries/999999/redeliver")
    assert missing.status_code == 404


def test_a_deleted_endpoint_gets_nothing_more(api: Api, receiver: Receiver, db: Engine) -> None:
    endpoint = add_endpoint(api, receiver.url(), ["*"])
    receiver.stop()
    send_a_reminder(api)
    deliver(api)  # refused: a retry is waiting
    deleted = api.client.delete(
        f"/api/v1/webhook-endpoints/{endpoint['id']}",
        headers={"Authorization": f"Bearer {api.key}"},
    )
    assert deleted.status_code == 204
    assert api.get("/webhook-endpoints").json() == []
    receiver.start()
    make_retries_due(db)
    assert deliver(api) == 0
    api.post("/invoices/inv-1001/payments", {"external_id": "p1", "amount": "1250.00"})
    assert deliver(api) == 0
    assert receiver.requests == []
    assert api.get(f"/webhook-endpoints/{endpoint['id']}/deliveries").status_code == 404
    again = api.client.delete(
        f"/api/v1/webhook-endpoints/{endpoint['id']}",
        headers={"Authorization": f"Bearer {api.key}"},
    )
    assert again.status_code == 404


def test_another_organisations_endpoint_is_404_and_gets_none_of_its_events(
    api: Api, receiver: Receiver, db: Engine
) -> None:
    mine = add_endpoint(api, receiver.url("/mine"), ["*"])
    other = Api(client=api.client, key=api_key_for(db, "acme"), slug="acme")
    send_a_reminder(api)
    assert deliver(api) == 2  # invoice.created, reminder.sent
    log = deliveries(api, mine)[0]
    auth = {"Authorization": f"Bearer {other.key}"}
    base = f"/webhook-endpoints/{mine['id']}"
    assert other.get("/webhook-endpoints").json() == []
    assert other.get(f"{base}/deliveries").status_code == 404
    assert other.post(f"{base}/deliveries/{log['id']}/redeliver").status_code == 404
    assert api.client.delete(f"/api/v1{base}", headers=auth).status_code == 404
    assert api.get("/webhook-endpoints").json()[0]["id"] == mine["id"]  # still there
    # The other organisation's own events never reach this organisation's endpoint.
    theirs = add_endpoint(other, receiver.url("/theirs"), ["*"])
    other.put("/customers/bakery", {**CUSTOMER, "email": "ap@acme-customer.test", "cc": []})
    other.put("/invoices/theirs", invoice_body(due_on="2026-11-26"))
    other.run_scheduler()
    receiver.requests.clear()
    assert deliver(api) == 2
    assert {r.path for r in receiver.requests} == {"/theirs"}
    assert {verified(r, theirs["secret"])["data"]["invoice"] for r in receiver.requests} == {
        "theirs"
    }
    foreign = other.get(f"/webhook-endpoints/{theirs['id']}/deliveries").json()
    assert api.post(f"{base}/deliveries/{foreign[0]['id']}/redeliver").status_code == 404


def test_an_endpoint_gets_only_the_kinds_it_subscribed_to(api: Api, receiver: Receiver) -> None:
    paid_only = add_endpoint(api, receiver.url("/paid"), ["invoice.paid"])
    everything = add_endpoint(api, receiver.url("/all"), ["*"])
    send_a_reminder(api)
    deliver(api)
    assert {r.path for r in receiver.requests} == {"/all"}
    assert sorted(r.payload()["type"] for r in receiver.requests) == [
        "invoice.created",
        "reminder.sent",
    ]
    paid = api.post("/invoices/inv-1001/payments", {"external_id": "p1", "amount": "1250.00"})
    assert paid.status_code in (200, 201), paid.text
    deliver(api)
    [to_paid] = [r for r in receiver.requests if r.path == "/paid"]
    assert verified(to_paid, paid_only["secret"])["type"] == "invoice.paid"
    everything_got = {
        verified(r, everything["secret"])["type"] for r in receiver.requests if r.path == "/all"
    }
    assert {"reminder.sent", "payment.received", "invoice.paid"} <= everything_got


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"url": "ftp://example.test/x", "events": ["*"]}, "url", "https://"),
        ({"url": "https://user:pw@example.test/x", "events": ["*"]}, "url", "password"),
        ({"url": "https:///nohost", "events": ["*"]}, "url", "host"),
        ({"url": "http://127.0.0.1:1/x", "events": ["reminder.snet"]}, "events", "unknown"),
        ({"url": "http://127.0.0.1:1/x", "events": []}, "events", ""),
        ({"url": "http://127.0.0.1:1/x"}, "events", ""),
    ],
)
def test_bad_endpoints_are_refused_with_the_reason(
    api: Api, body: dict[str, Any], field: str, reason: str
) -> None:
    response = api.post("/webhook-endpoints", body)
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"][-1] == field and reason in error["msg"]
    assert api.get("/webhook-endpoints").json() == []


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


def _literal_kinds(node: ast.expr) -> set[str]:
    """A literal kind, or both sides of `"a" if x else "b"`."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _literal_kinds(node.body) | _literal_kinds(node.orelse)
    return set()


def test_every_kind_the_code_records_can_be_subscribed_to() -> None:
    assert set(DESIGN_KINDS) <= KNOWN_KINDS
    recorded = set()
    for path in Path("app").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
                continue
            arguments: list[ast.expr] = []
            if node.func.id == "record_invoice_event" and len(node.args) >= 3:
                arguments.append(node.args[2])
            if node.func.id in ("record_event", "record_invoice_event"):
                arguments += [k.value for k in node.keywords if k.arg == "kind"]
            for argument in arguments:
                recorded |= _literal_kinds(argument)
    assert recorded and recorded <= KNOWN_KINDS, recorded - KNOWN_KINDS
