"""The generic payments webhook, signed with the `standardwebhooks` library: payments,
voids and invoice updates; replays, bad signatures, bad amounts and unknown invoices."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import standardwebhooks
from sqlalchemy import Engine
from sqlmodel import select

from app.db import session_scope
from app.organisations.models import Organisation
from app.worklist.models import WorklistItem
from tests.conftest import CUSTOMER, Api, Inbox, api_key_for, invoice_body

LONDON = ZoneInfo("Europe/London")


def _secret(db: Engine, slug: str = "default") -> str:
    with session_scope(db) as session:
        organisation = session.exec(select(Organisation).where(Organisation.slug == slug)).one()
        assert organisation.payments_webhook_secret
        return organisation.payments_webhook_secret


def _post(
    api: Api,
    db: Engine,
    kind: str,
    data: dict[str, Any],
    *,
    msg_id: str = "msg_1",
    slug: str = "default",
    secret: str | None = None,
    at: datetime | None = None,
) -> Any:
    body = json.dumps({"type": kind, "timestamp": "2026-11-26T11:00:00Z", "data": data})
    at = at or datetime.now(UTC)
    signature = standardwebhooks.Webhook(secret or _secret(db, slug)).sign(msg_id, at, body)
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
        "Content-Type": "application/json",
    }
    return api.client.post(f"/api/v1/webhooks/{slug}/payments", content=body, headers=headers)


def _payment(amount: Any = "1250.00", **extra: Any) -> dict[str, Any]:
    return {
        "invoice": "inv-1001",
        "payment_id": "bank-7781",
        "amount": amount,
        "currency": "GBP",
        "paid_at": "2026-11-25T15:30:00Z",
        **extra,
    }


def _invoice(api: Api, external_id: str = "inv-1001") -> dict[str, Any]:
    return api.get(f"/invoices/{external_id}").json()


def _kinds(api: Api, external_id: str = "inv-1001") -> list[str]:
    return [e["kind"] for e in api.get(f"/invoices/{external_id}/timeline").json()]


def _setup(api: Api, **overrides: Any) -> None:
    api.set_clock(datetime(2026, 11, 26, 11, 0, tzinfo=LONDON))
    api.put("/customers/bakery", CUSTOMER)
    api.put("/invoices/inv-1001", invoice_body(**{"due_on": "2026-11-20", **overrides}))


def test_a_payment_signed_with_standard_webhooks_stops_the_reminders(
    api: Api, inbox: Inbox, db: Engine
) -> None:
    _setup(api)
    api.run_scheduler()
    assert len(inbox.mails) == 1
    response = _post(api, db, "payment.received", _payment())
    assert response.status_code == 200, response.text
    assert response.json() == {
        "result": "applied",
        "event_id": "msg_1",
        "detail": "payment recorded",
        "invoice": "inv-1001",
    }
    invoice = _invoice(api)
    assert invoice["status"] == "paid" and invoice["reminders"]["next"] is None
    received = [
        e for e in api.get("/invoices/inv-1001/timeline").json() if e["kind"] == "payment.received"
    ]
    assert received[0]["actor"] == "webhook:payments" and received[0]["data"]["amount"] == "1250.00"
    api.set_clock(datetime(2027, 1, 15, 11, 0, tzinfo=LONDON))
    assert api.run_scheduler()["outcomes"] == []
    assert "thank you for your payment" in inbox.mails[-1].message["Subject"]


def test_partial_payments_lower_the_amount_due(api: Api, db: Engine) -> None:
    _setup(api)
    _post(api, db, "payment.received", _payment("200.50"), msg_id="msg_1")
    _post(api, db, "payment.received", _payment("49.50", payment_id="bank-7782"), msg_id="msg_2")
    invoice = _invoice(api)
    assert invoice["amount_due"] == "1000.00" and invoice["status"] == "open"
    assert invoice["reminders"]["next"] is not None


def test_a_replay_changes_nothing_and_a_resent_payment_counts_once(api: Api, db: Engine) -> None:
    _setup(api)
    first = _post(api, db, "payment.received", _payment("100.00"))
    replay = _post(api, db, "payment.received", _payment("100.00"))
    assert first.json()["result"] == "applied"
    assert replay.status_code == 200 and replay.json()["result"] == "duplicate"
    # A new message for a payment already recorded (also by the REST API) counts once too.
    again = _post(api, db, "payment.received", _payment("100.00"), msg_id="msg_2")
    assert again.json()["detail"] == "payment 'bank-7781' already recorded"
    assert _invoice(api)["amount_due"] == "1150.00"
    assert _kinds(api).count("payment.received") == 1


def test_bad_or_stale_signatures_are_refused_and_change_nothing(api: Api, db: Engine) -> None:
    _setup(api)
    timeline = _kinds(api)
    stranger = "whsec_" + "c2VjcmV0IG9mIHNvbWVvbmUgZWxzZQ=="
    old = datetime.now(UTC) - timedelta(minutes=10)
    refused = [
        _post(api, db, "payment.received", _payment(), secret=stranger),
        _post(api, db, "payment.received", _payment(), at=old),
        _post(
            api, db, "payment.received", _payment(), at=datetime.now(UTC) + timedelta(minutes=10)
        ),
        api.client.post(
            "/api/v1/webhooks/default/payments",
            json={"type": "payment.received", "data": _payment()},
            headers={"Authorization": f"Bearer {api.key}"},  # an API key is not a signature
        ),
    ]
    assert [r.status_code for r in refused] == [400, 400, 400, 400]
    assert "too old" in refused[1].json()["detail"]
    assert _invoice(api)["amount_due"] == "1250.00" and _kinds(api) == timeline
    assert _post(api, db, "payment.received", _payment()).json()["result"] == "applied"


def test_amounts_must_be_decimal_strings_in_the_invoice_currency(api: Api, db: Engine) -> None:
    _setup(api)
    as_number = _post(api, db, "payment.received", _payment(1250.0))
    assert as_number.status_code == 422
    assert as_number.json()["detail"][0]["loc"] == ["body", "data", "amount"]
    assert "not a JSON number" in as_number.json()["detail"][0]["msg"]
    dollars = _post(api, db, "payment.received", _payment(currency="USD"))
    assert dollars.status_code == 422, dollars.text
    assert dollars.json()["detail"][0]["loc"] == ["body", "currency"]
    assert "GBP" in dollars.json()["detail"][0]["msg"]
    too_precise = _post(api, db, "payment.received", _payment("10.001"))
    assert too_precise.status_code == 422, too_precise.text
    missing = _post(api, db, "payment.received", {"invoice": "inv-1001", "amount": "5.00"})
    assert {tuple(e["loc"]) for e in missing.json()["detail"]} == {
        ("body", "data", "payment_id"),
        ("body", "data", "currency"),
    }
    assert _invoice(api)["amount_due"] == "1250.00"
    assert "payment.received" not in _kinds(api)
    # Nothing was remembered: the sender may correct the event and send it again.
    assert _post(api, db, "payment.received", _payment()).json()["result"] == "applied"


def test_an_unknown_invoice_is_answered_and_put_on_the_worklist(api: Api, db: Engine) -> None:
    _setup(api)
    response = _post(api, db, "payment.received", _payment(invoice="inv-404"))
    assert response.status_code == 200 and response.json()["result"] == "unmatched"
    assert _post(api, db, "payment.received", _payment(invoice="inv-404")).json()["result"] == (
        "duplicate"
    )
    with session_scope(db) as session:
        items = session.exec(select(WorklistItem)).all()
    assert [item.kind for item in items] == ["unmatched_payment"]
    assert "'inv-404'" in items[0].reason and "msg_1" in items[0].reason


def test_a_voided_invoice_gets_no_more_reminders(api: Api, inbox: Inbox, db: Engine) -> None:
    _setup(api)
    response = _post(api, db, "invoice.voided", {"invoice": "inv-1001"})
    assert response.json()["result"] == "applied"
    assert _invoice(api)["reminders"] == {"state": "void", "next": None}
    assert _kinds(api)[-1] == "invoice.voided"
    assert api.run_scheduler()["outcomes"] == [] and inbox.mails == []
    # A payment for a void invoice is refused, not silently counted.
    assert _post(api, db, "payment.received", _payment(), msg_id="msg_2").status_code == 422
    unknown = _post(api, db, "invoice.voided", {"invoice": "inv-404"}, msg_id="msg_3")
    assert unknown.json()["result"] == "unmatched"


def test_invoice_updated_upserts_like_the_rest_api(api: Api, db: Engine) -> None:
    _setup(api)
    data = {**invoice_body(number="INV-1002", amount_total="80.00"), "external_id": "inv-1002"}
    created = _post(api, db, "invoice.updated", data)
    assert created.json() == {
        "result": "applied",
        "event_id": "msg_1",
        "detail": "invoice created",
        "invoice": "inv-1002",
    }
    _post(api, db, "invoice.updated", {**data, "amount_due": "30.00"}, msg_id="msg_2")
    assert _invoice(api, "inv-1002")["amount_due"] == "30.00"
    bad = _post(api, db, "invoice.updated", {**data, "amount_total": 80}, msg_id="msg_3")
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == [
        "body",
        "data",
        "amount_total",
    ]
    stranger = _post(api, db, "invoice.updated", {**data, "customer": "nobody"}, msg_id="msg_4")
    assert stranger.status_code == 422 and stranger.json()["detail"][0]["loc"] == [
        "body",
        "customer",
    ]
    assert _invoice(api, "inv-1002")["amount_total"] == "80.00"


def test_unknown_types_are_ignored_and_a_body_without_type_is_refused(api: Api, db: Engine) -> None:
    _setup(api)
    assert _post(api, db, "customer.created", {"id": "c1"}).json()["result"] == "ignored"
    signed = _post(api, db, "", {}, msg_id="msg_2")
    assert signed.status_code == 422 and signed.json()["detail"][0]["loc"] == ["body", "type"]


def test_the_signature_of_one_organisation_does_not_work_at_another(api: Api, db: Engine) -> None:
    _setup(api)
    acme = Api(client=api.client, key=api_key_for(db, "acme"), slug="acme")
    acme.put("/customers/bakery", CUSTOMER)
    acme.put("/invoices/inv-1001", invoice_body())
    ours = _secret(db)
    response = _post(api, db, "payment.received", _payment(), slug="acme", secret=ours)
    assert response.status_code == 400
    assert acme.get("/invoices/inv-1001").json()["amount_due"] == "1250.00"
    assert (
        _post(api, db, "payment.received", _payment(), slug="nowhere", secret=ours).status_code
        == 404
    )
    assert _invoice(api)["amount_due"] == "1250.00"


def test_copies_arriving_together_are_applied_once(api: Api, db: Engine) -> None:
    _setup(api)
    body = json.dumps({"type": "payment.received", "data": _payment("100.00")})
    now = datetime.now(UTC)
    headers = {
        "webhook-id": "msg_race",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": standardwebhooks.Webhook(_secret(db)).sign("msg_race", now, body),
    }
    with ThreadPoolExecutor(4) as pool:
        responses = list(
            pool.map(
                lambda _: api.client.post(
                    "/api/v1/webhooks/default/payments", content=body, headers=headers
                ),
                range(4),
            )
        )
    assert sorted(r.json()["result"] for r in responses) == ["applied"] + ["duplicate"] * 3
    assert _invoice(api)["amount_due"] == "1150.00"
