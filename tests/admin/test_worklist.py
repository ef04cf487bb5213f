"""The worklist page: ranking by priority, filters, assigning and resolving, tenancy."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Engine
from sqlmodel import select

from app.customers.models import Customer
from app.db import session_scope
from app.disputes.service import open_dispute
from app.invoices.models import Invoice
from app.invoices.service import get_invoice
from app.promises.service import register_broken_promise
from app.users.models import User
from app.worklist.models import WorklistItem
from app.worklist.service import add_item
from tests.admin.conftest import AdminSession, make_user
from tests.admin.test_invoices import MILL, org_id
from tests.conftest import CUSTOMER, Api, api_key_for, invoice_body
from tests.portal_helpers import THURSDAY_11

CORNER = {**MILL, "name": "Corner Shop", "email": "till@corner-shop.test", "cc": []}


def build_worklist(admin: AdminSession, db: Engine) -> None:
    """Five items whose scores were worked out by hand (today is 26 November 2026).

    bakery: 1,000.00 due 30 days, no promise history      -> 3 x 2 x 1.0 = 6.0
    mill:   10,000.00 due 15 days, one promise kept        -> 4 x 1.5 x 7/6 = 7.0
    corner: 100.00 due today, one promise broken           -> 2 x 1 x 5/6 = 1.67
    A dispute and a broken promise add 1000 to their invoice's score.
    """
    api = admin.api
    api.set_clock(THURSDAY_11)
    for external_id, body in (("bakery", CUSTOMER), ("mill", MILL), ("corner", CORNER)):
        assert api.put(f"/customers/{external_id}", body).status_code in (200, 201)
    for external_id, customer, total, due_on in (
        ("inv-1001", "bakery", "1000.00", "2026-10-27"),
        ("inv-2001", "mill", "10000.00", "2026-11-11"),
        ("inv-2002", "mill", "200.00", "2026-11-26"),
        ("inv-3001", "corner", "100.00", "2026-11-26"),
    ):
        body = invoice_body(
            customer=customer, number=external_id.upper(), amount_total=total, due_on=due_on
        )
        assert api.put(f"/invoices/{external_id}", body).status_code in (200, 201)
    # The mill keeps a promise made on the phone: recorded by an admin, then paid.
    promised = admin.post(
        "/admin/invoices/inv-2002/promise",
        {"promised_on": "2026-11-30"},
        csrf_from="/admin/invoices/inv-2002",
        follow_redirects=False,
    )
    assert promised.status_code == 303
    paid = api.post("/invoices/inv-2002/payments", {"external_id": "p-1", "amount": "200.00"})
    assert paid.status_code in (200, 201), paid.text
    organisation_id = org_id(db)
    with session_scope(db) as session:

        def invoice(external_id: str) -> Invoice:
            return get_invoice(session, organisation_id=organisation_id, external_id=external_id)

        open_dispute(
            session,
            invoice=invoice("inv-1001"),
            reason="not_received",
            message="Nothing arrived.",
            now=THURSDAY_11,
            actor="customer",
        )
        register_broken_promise(
            session,
            invoice("inv-3001"),
            now=THURSDAY_11,
            data={"promised_on": "2026-11-20", "amount": "100.00"},
            reason="Corner Shop broke its promise for INV-3001.",
        )
        for kind, external_id, reason in (
            ("paid_claim", "inv-2001", "Mill says INV-2001 was paid; check the bank."),
            ("call", "inv-1001", "Call the bakery about INV-1001."),
        ):
            found = invoice(external_id)
            add_item(
                session,
                organisation_id=organisation_id,
                kind=kind,
                reason=reason,
                at=THURSDAY_11,
                invoice_id=found.id,
                customer_id=found.customer_id,
            )
        corner = session.exec(select(Customer).where(Customer.external_id == "corner")).one()
        add_item(
            session,
            organisation_id=organisation_id,
            kind="opted_out",
            reason="Corner Shop wants no more emails; phone them.",
            at=THURSDAY_11,
            customer_id=corner.id,
        )


REASONS = {
    "dispute": "Nothing arrived.",
    "broken": "Corner Shop broke its promise",
    "claim": "Mill says INV-2001 was paid",
    "call": "Call the bakery",
    "optout": "Corner Shop wants no more emails",
}


def order_on(page: str) -> list[str]:
    found = [(page.index(text), key) for key, text in REASONS.items() if text in page]
    return [key for _, key in sorted(found)]


def scores_on(page: str) -> list[str]:
    return re.findall(r'<td class="num">(\d+\.\d)</td>', page)


def item_id(db: Engine, reason: str) -> int:
    with session_scope(db) as session:
        items = session.exec(select(WorklistItem)).all()
        found = next(i for i in items if reason in i.reason)
        assert found.id is not None
        return found.id


def user_id(db: Engine, email: str) -> int:
    with session_scope(db) as session:
        user = session.exec(select(User).where(User.email == email)).one()
        assert user.id is not None
        return user.id


def test_items_come_most_urgent_first_with_their_scores(admin: AdminSession, db: Engine) -> None:
    build_worklist(admin, db)
    page = admin.get("/admin/worklist")
    assert page.status_code == 200
    assert order_on(page.text) == ["dispute", "broken", "claim", "call", "optout"]
    assert scores_on(page.text) == ["1006.0", "1001.7", "7.0", "6.0", "1.7"]
    row = page.text[page.text.index(REASONS["claim"]) :].split("</tr>")[0]
    assert "Riverside Mill" in row and "£10,000.00" in row and "15 days overdue" in row
    assert 'href="/admin/invoices/inv-2001"' in row and "nobody" in row
    optout = page.text[page.text.index(REASONS["optout"]) :].split("</tr>")[0]
    assert "£100.00" in optout  # the customer's open invoices
    disputes = admin.get("/admin/worklist?kind=dispute").text
    assert order_on(disputes) == ["dispute"]


def test_assign_filters_and_unassign(admin: AdminSession, db: Engine) -> None:
    build_worklist(admin, db)
    make_user(db, "default", "bob@northwind.test")
    make_user(db, "acme", "zed@acme.test")
    claim = item_id(db, REASONS["claim"])
    ann, bob = user_id(db, "ann@northwind.test"), user_id(db, "bob@northwind.test")

    def assign(user: str) -> Any:
        return admin.post(
            f"/admin/worklist/{claim}/assign",
            {"user": user, "who": "all"},
            csrf_from="/admin/worklist",
            follow_redirects=False,
        )

    outsider = assign(str(user_id(db, "zed@acme.test")))
    assert outsider.status_code == 422 and "choose one of your organisation" in outsider.text
    assert assign("nonsense").status_code == 422
    assert order_on(admin.get("/admin/worklist?who=mine").text) == []

    done = assign(str(ann))
    assert done.status_code == 303 and done.headers["location"].startswith("/admin/worklist?")
    assert order_on(admin.get("/admin/worklist?who=mine").text) == ["claim"]
    unassigned = order_on(admin.get("/admin/worklist?who=unassigned").text)
    assert unassigned == ["dispute", "broken", "call", "optout"]
    row = admin.get("/admin/worklist").text.split(REASONS["claim"])[1].split("</tr>")[0]
    assert f'<option value="{ann}" selected>' in row

    assert assign(str(bob)).status_code == 303
    assert order_on(admin.get("/admin/worklist?who=mine").text) == []
    assert assign("").status_code == 303
    assert "claim" in order_on(admin.get("/admin/worklist?who=unassigned").text)
    assert admin.get("/admin/worklist?who=theirs").status_code == 422


def test_resolve_with_a_note(admin: AdminSession, db: Engine) -> None:
    build_worklist(admin, db)
    call = item_id(db, REASONS["call"])

    def resolve(note: str) -> Any:
        return admin.post(
            f"/admin/worklist/{call}/resolve",
            {"resolution": note, "who": "all", "kind": ""},
            csrf_from="/admin/worklist",
            follow_redirects=False,
        )

    empty = resolve("  ")
    assert empty.status_code == 422 and "Please fill this in." in empty.text
    assert "call" in order_on(admin.get("/admin/worklist").text)

    done = resolve("Rang Jane; the cheque is in the post.")
    assert done.status_code == 303
    assert "call" not in order_on(admin.get(done.headers["location"]).text)
    timeline = admin.api.get("/invoices/inv-1001/timeline").json()
    assert timeline[-1]["kind"] == "worklist.resolved"
    assert timeline[-1]["data"]["resolution"] == "Rang Jane; the cheque is in the post."
    assert timeline[-1]["actor"] == "admin:ann@northwind.test"
    page = admin.get("/admin/invoices/inv-1001").text
    assert "Worklist item (call) resolved: Rang Jane; the cheque is in the post." in page
    again = resolve("twice")
    assert again.status_code == 422 and "already resolved" in again.text


def test_resolving_a_dispute_item_settles_the_dispute(admin: AdminSession, db: Engine) -> None:
    build_worklist(admin, db)
    assert admin.api.get("/invoices/inv-1001").json()["reminders"]["state"] == "disputed"
    done = admin.post(
        f"/admin/worklist/{item_id(db, REASONS['dispute'])}/resolve",
        {"resolution": "The parcel was found in their stockroom."},
        csrf_from="/admin/worklist",
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert "reminders resumed" in admin.get(done.headers["location"]).text
    assert admin.api.get("/invoices/inv-1001").json()["reminders"]["state"] == "active"
    page = admin.get("/admin/invoices/inv-1001").text
    assert "resolved: The parcel was found in their stockroom." in page
    assert "Open dispute" not in page


def test_another_organisations_items_are_not_found(admin: AdminSession, db: Engine) -> None:
    acme = Api(client=admin.client, key=api_key_for(db, "acme"), slug="acme")
    acme.set_clock(THURSDAY_11)
    acme.put("/customers/bakery", CUSTOMER)
    acme.put("/invoices/inv-1", invoice_body(number="ACME-1", due_on="2026-10-01"))
    acme_id = org_id(db, "acme")
    with session_scope(db) as session:
        invoice = get_invoice(session, organisation_id=acme_id, external_id="inv-1")
        add_item(
            session,
            organisation_id=acme_id,
            kind="call",
            reason="Acme's own call task.",
            at=THURSDAY_11,
            invoice_id=invoice.id,
            customer_id=invoice.customer_id,
        )
    theirs = item_id(db, "Acme's own call task.")
    assert "Acme" not in admin.get("/admin/worklist").text
    for action, data in (("assign", {"user": ""}), ("resolve", {"resolution": "mine now"})):
        response = admin.post(
            f"/admin/worklist/{theirs}/{action}", data, csrf_from="/admin/worklist"
        )
        assert response.status_code == 404, action
    with session_scope(db) as session:
        item = session.get(WorklistItem, theirs)
        assert item is not None and item.resolved_at is None and item.resolution is None
    assert admin.post("/admin/worklist/999999/resolve", {"resolution": "x"}).status_code == 404
