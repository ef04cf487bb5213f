"""Two organisations: every /api/v1 route tried with the other's key finds nothing of theirs.

The routes are read from the app itself, so a new route is checked as soon as it exists; a
route this file cannot call yet (no id to use, no valid body) fails with what to add.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, select
from sqlmodel import SQLModel

from app.db import session_scope
from app.organisations.models import Organisation
from app.organisations.service import get_organisation_by_slug
from app.webhooks.models import WebhookDelivery
from app.webhooks.signatures import sign_standard
from tests.conftest import CUSTOMER, Api, api_key_for, invoice_body

LONDON = ZoneInfo("Europe/London")
# Global by design and documented so: one test clock per deployment, for every organisation.
GLOBAL = {("PUT", "/api/v1/test-clock"), ("GET", "/api/v1/test-clock")}
# Authenticated by the slug in the path and a signature or secret, not by API key: checked
# in test_signed_routes_refuse_the_other_organisations_credentials below.
SIGNED = re.compile(r"^/api/v1/(webhooks|inbound)/\{org\}/")
# Bodies that pass validation, so a refusal is the tenancy check and not a 422.
BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/api/v1/invoices/{external_id}/payments"): {
        "external_id": "b-pay",
        "amount": "10.00",
        "paid_at": "2026-11-23T10:00:00Z",
    },
    ("POST", "/api/v1/invoices/{external_id}/pause"): {"reason": "by the wrong organisation"},
    ("PUT", "/api/v1/customers/{external_id}"): CUSTOMER,
    ("PUT", "/api/v1/invoices/{external_id}"): invoice_body(due_on="2027-06-01"),
    ("POST", "/api/v1/invoices/batch"): {
        "invoices": [{**invoice_body(due_on="2027-06-01"), "external_id": "inv-a"}]
    },
    ("POST", "/api/v1/webhook-endpoints"): {
        "url": "https://hooks.acme.example/politely",
        "events": ["*"],
    },
    ("PATCH", "/api/v1/organisation"): {"from_name": "Acme Accounts"},
}


def api_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path template) of every /api/v1 route, however deeply routers nest."""
    try:
        from fastapi.routing import iter_route_contexts

        routes: Any = iter_route_contexts(app.routes)
    except ImportError:  # FastAPI versions whose app.routes is already flat
        routes = app.routes
    found = set()
    for route in routes:
        path = getattr(route, "path", None) or ""
        for method in getattr(route, "methods", None) or ():
            if path.startswith("/api/v1/") and method != "HEAD":
                found.add((method, path))
    return sorted(found)


@dataclass
class Tenant:
    api: Api
    ids: dict[str, str]  # path parameter name -> the id of one of this organisation's objects


def _set_up(api: Api, customer: str, invoice: str) -> dict[str, str]:
    assert api.put(f"/customers/{customer}", CUSTOMER).status_code == 201
    body = invoice_body(customer=customer, due_on="2027-06-01")
    assert api.put(f"/invoices/{invoice}", body).status_code == 201
    endpoint = api.post(
        "/webhook-endpoints", {"url": f"https://hooks.{api.slug}.example/in", "events": ["*"]}
    )
    assert endpoint.status_code == 201, endpoint.text
    payment = {"external_id": f"{invoice}-p1", "amount": "50.00", "paid_at": "2026-11-20T10:00:00Z"}
    assert api.post(f"/invoices/{invoice}/payments", payment).status_code == 201
    engine = api.client.app.state.runtime.engine  # type: ignore[attr-defined]
    with session_scope(engine) as session:
        delivery = (
            session.execute(
                select(WebhookDelivery.id).where(  # type: ignore[call-overload]
                    WebhookDelivery.endpoint_id == endpoint.json()["id"]
                )
            )
            .scalars()
            .first()
        )
    assert delivery is not None, "a payment event should be queued for the endpoint"
    return {
        "customer": customer,
        "invoice": invoice,
        "endpoint_id": str(endpoint.json()["id"]),
        "delivery_id": str(delivery),
    }


@pytest.fixture
def tenants(api: Api, db: Engine) -> tuple[Tenant, Tenant]:
    api.set_clock(datetime(2026, 11, 23, 8, 0, tzinfo=LONDON))
    northwind = Tenant(api, _set_up(api, "bakery", "inv-a"))
    acme_api = Api(client=api.client, key=api_key_for(db, "acme"), slug="acme")
    acme = Tenant(acme_api, _set_up(acme_api, "acme-customer", "inv-b"))
    return northwind, acme


def snapshot(engine: Engine, slug: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of the organisation's own, table by table."""
    with session_scope(engine) as session:
        organisation_id = get_organisation_by_slug(session, slug).id
        rows: dict[str, list[dict[str, Any]]] = {}
        for table in SQLModel.metadata.sorted_tables:
            if table.name == Organisation.__tablename__:
                where = table.c.id == organisation_id
            elif "organisation_id" in table.c:
                where = table.c.organisation_id == organisation_id
            else:
                continue
            result = session.execute(select(table).where(where).order_by(*table.primary_key))
            rows[table.name] = [dict(row._mapping) for row in result]
        return rows


def _value(path: str, name: str, tenant: Tenant) -> str:
    if name == "external_id":
        return tenant.ids["customer" if path.startswith("/api/v1/customers/") else "invoice"]
    if name in tenant.ids:
        return tenant.ids[name]
    raise AssertionError(f"tell test_tenancy which object {{{name}}} names in {path}")


def _call(api: Api, method: str, path: str, body: Any) -> Any:
    headers = {"Authorization": f"Bearer {api.key}"}
    if method in ("GET", "DELETE"):
        return api.client.request(method, path, headers=headers)
    return api.client.request(method, path, headers=headers, json=body)


def test_every_route_with_an_id_is_404_with_the_other_organisations_key(
    tenants: tuple[Tenant, Tenant], db: Engine
) -> None:
    northwind, acme = tenants
    app: FastAPI = northwind.api.client.app  # type: ignore[assignment]
    before = snapshot(db, "default")
    checked = []
    for method, template in api_routes(app):
        names = re.findall(r"\{(\w+)\}", template)
        if not names or SIGNED.match(template) or (method, template) in GLOBAL or method == "PUT":
            continue  # PUT upserts are their own test below
        # Northwind's ids, alone or mixed with Acme's own (Acme's endpoint, Northwind's delivery).
        for owners in itertools.product((northwind, acme), repeat=len(names)):
            if northwind not in owners:
                continue
            path = template
            for name, owner in zip(names, owners, strict=True):
                path = path.replace(f"{{{name}}}", _value(template, name, owner))
            response = _call(acme.api, method, path, BODIES.get((method, template), {}))
            assert response.status_code != 422, f"add a valid body for {method} {template}"
            assert response.status_code == 404, (method, path, response.text)
            checked.append(f"{method} {template}")
    assert snapshot(db, "default") == before
    assert "POST /api/v1/invoices/{external_id}/payments" in checked  # the list is not empty


def test_upserts_with_the_other_organisations_ids_create_their_own(
    tenants: tuple[Tenant, Tenant], db: Engine
) -> None:
    northwind, acme = tenants
    app: FastAPI = northwind.api.client.app  # type: ignore[assignment]
    before = snapshot(db, "default")
    puts = [(m, t) for m, t in api_routes(app) if m == "PUT" and (m, t) not in GLOBAL]
    assert puts, "no upsert routes found"
    for method, template in sorted(puts):  # customers before invoices, which need one
        path = re.sub(r"\{external_id\}", _value(template, "external_id", northwind), template)
        body = BODIES.get((method, template))
        assert body is not None, f"add a valid body for {method} {template}"
        response = _call(acme.api, method, path, body)
        assert response.status_code == 201, (path, response.text)
    assert snapshot(db, "default") == before
    assert acme.api.get("/invoices/inv-a").json()["due_on"] == "2027-06-01"
    assert northwind.api.get("/invoices/inv-a").json()["amount_due"] == "1200.00"


def test_routes_without_an_id_answer_for_the_caller_only(
    tenants: tuple[Tenant, Tenant], db: Engine
) -> None:
    northwind, acme = tenants
    app: FastAPI = northwind.api.client.app  # type: ignore[assignment]
    secret = northwind.api.get("/organisation").json()["payments_webhook_secret"]
    before = snapshot(db, "default")
    for method, template in api_routes(app):
        if "{" in template or (method, template) in GLOBAL:
            continue
        response = _call(acme.api, method, template, BODIES.get((method, template), {}))
        assert response.status_code < 300, (method, template, response.text)
        for marker in ("hooks.default.example", "inv-a-p1", secret):  # Northwind's own data
            assert marker not in response.text, (method, template, marker)
    assert snapshot(db, "default") == before
    assert acme.api.get("/organisation").json()["slug"] == "acme"


def _stripe_header(secret: str, body: bytes) -> str:
    stamp = int(time.time())  # signature tolerances use the real clock
    signed = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={signed}"


def test_signed_routes_refuse_the_other_organisations_credentials(
    tenants: tuple[Tenant, Tenant], db: Engine
) -> None:
    northwind, acme = tenants
    for tenant, secret in ((northwind, "whsec_northwind_1234"), (acme, "whsec_acme_5678")):
        patch = {"stripe_webhook_secret": secret}
        headers = {"Authorization": f"Bearer {tenant.api.key}"}
        response = tenant.api.client.patch("/api/v1/organisation", json=patch, headers=headers)
        assert response.status_code == 200, response.text
    acme_org = acme.api.get("/organisation").json()
    before = snapshot(db, "default")
    client = acme.api.client
    paid = {
        "type": "payment.received",
        "data": {
            "invoice": "inv-a",
            "payment_id": "forged-1",
            "amount": "1200.00",
            "currency": "GBP",
            "paid_at": "2026-11-23T10:00:00Z",
        },
    }
    body = json.dumps(paid).encode()
    stamp = int(time.time())
    standard = {
        "webhook-id": "msg_forged_1",
        "webhook-timestamp": str(stamp),
        "webhook-signature": sign_standard(
            acme_org["payments_webhook_secret"], "msg_forged_1", stamp, body
        ),
        "Content-Type": "application/json",
    }
    stripe_event = {
        "id": "evt_forged_1",
        "type": "invoice.paid",
        "data": {"object": {"id": "in_1", "metadata": {"politely_invoice": "inv-a"}}},
    }
    stripe_body = json.dumps(stripe_event).encode()
    mime = b"From: x@acme.example\r\nSubject: hi\r\nMessage-ID: <f1@acme.example>\r\n\r\nhello\r\n"
    attempts = [
        ("/api/v1/webhooks/default/payments", body, standard),
        (
            "/api/v1/webhooks/default/stripe",
            stripe_body,
            {"Stripe-Signature": _stripe_header("whsec_acme_5678", stripe_body)},
        ),
        (
            "/api/v1/inbound/default/email",
            mime,
            {"Authorization": f"Bearer {acme.api.key}", "Content-Type": "message/rfc822"},
        ),
        (
            f"/api/v1/inbound/default/email?secret={acme_org['inbound_secret']}",
            mime,
            {"Content-Type": "message/rfc822"},
        ),
    ]
    for path, content, headers in attempts:
        response = client.post(path, content=content, headers=headers)
        assert response.status_code in (400, 401, 403, 404), (path, response.text)
    assert snapshot(db, "default") == before
    # The same signed payment to Acme's own URL is accepted: the refusals above were tenancy.
    own = client.post("/api/v1/webhooks/acme/payments", content=body, headers=standard)
    assert own.status_code == 200 and own.json()["result"] == "unmatched", own.text
