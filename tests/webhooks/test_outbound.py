"""Event webhooks out: a real local receiver, Standard Webhooks signatures, retries, tenancy."""

from __future__ import annotations

import ast
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app.main import create_app
from app.settings import Settings
from app.webhooks.outbound import (
    JITTER,
    KNOWN_KINDS,
)
from tests.conftest import CUSTOMER, Api, Inbox, api_key_for, invoice_body
from tests.webhooks.support import (
    LONDON,
    Receiver,
    add_endpoint,
    deliver,
    deliveries,
    make_retries_due,
    receiver,
    send_a_reminder,
    verified,
)

__all__ = ["receiver"]  # the fixture
DESIGN_KINDS = """reminder.sent reminder.failed reply.received link.clicked promise.created
promise.kept promise.broken plan.created dispute.opened dispute.resolved payment.received
invoice.paid invoice.escalated invoice.paused invoice.resumed contact.bounced
contact.unsubscribed note.added""".split()


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
