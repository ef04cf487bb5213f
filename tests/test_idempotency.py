"""Idempotency-Key on POSTs: a retried request gets the first answer and changes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func
from sqlmodel import select

from app.db import session_scope
from app.idempotency import store
from app.idempotency.middleware import install_idempotency
from app.idempotency.models import IdempotentRequest
from app.main import create_app
from app.settings import Settings
from tests.conftest import CUSTOMER, Api, api_key_for, invoice_body

LONDON = ZoneInfo("Europe/London")
PAYMENT = {"external_id": "pay-1", "amount": "250.00", "paid_at": "2026-11-23T10:00:00Z"}


@pytest.fixture
def client(db: Engine, settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings, engine=db)
    install_idempotency(app)  # a no-op once create_app installs it itself
    with TestClient(app, base_url="https://politely.test") as client:
        yield client


def _ready(api: Api, invoice: str = "inv-1001") -> None:
    api.set_clock(datetime(2026, 11, 23, 8, 0, tzinfo=LONDON))
    assert api.put("/customers/bakery", CUSTOMER).status_code in (200, 201)
    assert api.put(f"/invoices/{invoice}", invoice_body(due_on="2026-12-01")).status_code == 201


def _kinds(api: Api, invoice: str = "inv-1001") -> list[str]:
    return [event["kind"] for event in api.get(f"/invoices/{invoice}/timeline").json()]


def _key(value: str) -> dict[str, str]:
    return {"Idempotency-Key": value}


def test_a_repeated_payment_gets_the_first_answer(api: Api) -> None:
    _ready(api)
    first = api.post("/invoices/inv-1001/payments", PAYMENT, headers=_key("pay-1-try"))
    again = api.post("/invoices/inv-1001/payments", PAYMENT, headers=_key("pay-1-try"))
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.json()["created"] is True
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert _kinds(api).count("payment.received") == 1


def test_a_repeated_pause_is_recorded_once(api: Api) -> None:
    _ready(api)
    body = {"until": "2026-12-10", "reason": "customer on holiday"}
    for _ in range(3):
        response = api.post("/invoices/inv-1001/pause", body, headers=_key("pause-1"))
        assert response.status_code == 200 and response.json()["reminders"]["state"] == "paused"
    assert _kinds(api).count("invoice.paused") == 1
    # Without a key every request is its own: a second pause is a second event.
    api.post("/invoices/inv-1001/pause", body)
    assert _kinds(api).count("invoice.paused") == 2


def test_the_same_json_written_differently_is_the_same_request(api: Api) -> None:
    _ready(api)
    compact = '{"external_id":"pay-1","amount":"250.00","paid_at":"2026-11-23T10:00:00Z"}'
    spaced = '{ "paid_at": "2026-11-23T10:00:00Z",\n  "amount": "250.00", "external_id": "pay-1" }'
    responses = [
        api.post(
            "/invoices/inv-1001/payments",
            content=text,
            headers={**_key("k"), "Content-Type": "application/json"},
        )
        for text in (compact, spaced)
    ]
    assert [r.status_code for r in responses] == [201, 201]
    assert responses[1].headers["Idempotent-Replayed"] == "true"


def test_the_same_key_for_another_request_is_refused(api: Api) -> None:
    _ready(api)
    _ready(api, "inv-1002")
    assert api.post("/invoices/inv-1001/payments", PAYMENT, headers=_key("k1")).status_code == 201
    other_body = api.post(
        "/invoices/inv-1001/payments", {**PAYMENT, "amount": "300.00"}, headers=_key("k1")
    )
    other_path = api.post("/invoices/inv-1002/payments", PAYMENT, headers=_key("k1"))
    for response in (other_body, other_path):
        assert response.status_code == 422
        detail = response.json()["detail"][0]
        assert detail["loc"] == ["header", "Idempotency-Key"]
        assert "already used for a different request" in detail["msg"]
    assert api.get("/invoices/inv-1001").json()["amount_due"] == "1000.00"
    assert "payment.received" not in _kinds(api, "inv-1002")


def test_a_key_longer_than_255_characters_is_400(api: Api) -> None:
    _ready(api)
    refused = api.post("/invoices/inv-1001/payments", PAYMENT, headers=_key("k" * 256))
    assert refused.status_code == 400 and "1 to 255 characters" in refused.text
    assert api.get("/invoices/inv-1001").json()["amount_due"] == "1250.00"
    accepted = api.post("/invoices/inv-1001/payments", PAYMENT, headers=_key("k" * 255))
    assert accepted.status_code == 201


def test_an_error_is_not_stored_so_the_key_can_be_retried(api: Api) -> None:
    api.set_clock(datetime(2026, 11, 23, 8, 0, tzinfo=LONDON))
    early = api.post("/invoices/inv-1001/payments", PAYMENT, headers=_key("retry-me"))
    assert early.status_code == 404
    _ready(api)
    later = api.post("/invoices/inv-1001/payments", PAYMENT, headers=_key("retry-me"))
    assert later.status_code == 201 and "Idempotent-Replayed" not in later.headers


def test_keys_belong_to_one_organisation(api: Api, db: Engine) -> None:
    _ready(api)
    acme = Api(client=api.client, key=api_key_for(db, "acme"), slug="acme")
    _ready(acme)
    mine = api.post("/invoices/inv-1001/payments", PAYMENT, headers=_key("shared"))
    theirs = acme.post(
        "/invoices/inv-1001/payments", {**PAYMENT, "amount": "5.00"}, headers=_key("shared")
    )
    assert mine.status_code == theirs.status_code == 201
    assert "Idempotent-Replayed" not in theirs.headers
    assert acme.get("/invoices/inv-1001").json()["amount_due"] == "1245.00"
    assert api.get("/invoices/inv-1001").json()["amount_due"] == "1000.00"


def test_a_request_still_running_with_the_key_is_409(api: Api, db: Engine) -> None:
    _ready(api)
    path = "/api/v1/invoices/inv-1001/payments"
    digest = store.request_hash("POST", path, "", b"{}")
    claimed = store.claim(  # another worker has taken the key and not yet answered
        db,
        organisation_id=_organisation_id(db),
        key="busy",
        method="POST",
        path=path,
        digest=digest,
    )
    assert isinstance(claimed, store.Claimed)
    busy = api.post("/invoices/inv-1001/payments", {}, headers=_key("busy"))
    assert busy.status_code == 409 and "still being processed" in busy.text
    store.release(db, claimed)
    assert api.post("/invoices/inv-1001/payments", PAYMENT, headers=_key("busy")).status_code == 201


def _organisation_id(engine: Engine) -> int:
    from app.organisations.service import get_organisation_by_slug

    with session_scope(engine) as session:
        organisation_id = get_organisation_by_slug(session, "default").id
        assert organisation_id is not None
        return organisation_id


def test_requests_without_a_valid_api_key_are_left_to_the_route(api: Api) -> None:
    response = api.client.post(
        "/api/v1/invoices/inv-1001/payments", json=PAYMENT, headers=_key("anonymous")
    )
    assert response.status_code == 401


def test_inbound_email_is_not_made_idempotent(api: Api, db: Engine) -> None:
    """It authenticates by secret or signature and deduplicates by Message-ID itself."""
    message = EmailMessage()
    message["From"] = "someone@elsewhere.test"
    message["To"] = "accounts@northwind.test"
    message["Subject"] = "Hello"
    message["Message-ID"] = "<hello-1@elsewhere.test>"
    message.set_content("Just saying hello.")
    headers = {
        "Authorization": f"Bearer {api.key}",
        "Content-Type": "message/rfc822",
        **_key("inbound-1"),
    }
    answers = [
        api.client.post("/api/v1/inbound/default/email", content=bytes(message), headers=headers)
        for _ in range(2)
    ]
    assert [a.status_code for a in answers] == [200, 200]
    assert all("Idempotent-Replayed" not in a.headers for a in answers)
    with session_scope(db) as session:
        assert session.exec(select(func.count()).select_from(IdempotentRequest)).one() == 0


def test_a_key_left_pending_by_a_crashed_process_is_taken_over(api: Api, db: Engine) -> None:
    _ready(api)
    path = "/api/v1/invoices/inv-1001/payments"
    body = json.dumps(PAYMENT).encode()
    claimed = store.claim(
        db,
        organisation_id=_organisation_id(db),
        key="orphan",
        method="POST",
        path=path,
        digest=store.request_hash("POST", path, "", body),
    )
    assert isinstance(claimed, store.Claimed)
    with session_scope(db) as session:  # the process that claimed it died 11 minutes ago
        row = session.get(IdempotentRequest, claimed.row_id)
        assert row is not None
        row.created_at = datetime.now(UTC) - timedelta(minutes=11)
        session.add(row)
    response = api.post("/invoices/inv-1001/payments", PAYMENT, headers=_key("orphan"))
    assert response.status_code == 201 and "Idempotent-Replayed" not in response.headers
    again = api.post("/invoices/inv-1001/payments", PAYMENT, headers=_key("orphan"))
    assert again.headers["Idempotent-Replayed"] == "true"
