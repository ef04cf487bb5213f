"""How promises, payment plans, disputes, "I've already paid", replies and payments interact.

Every test starts from a real reminder (overdue_3, Thursday 26 November 2026, for INV-1001 of
£1,250.00 due 20 November) and then acts as the customer and the invoicing system do.
"""

from __future__ import annotations

from datetime import date, datetime
from email.message import EmailMessage
from typing import Any

from sqlalchemy import Engine
from sqlmodel import select

from app.db import session_scope
from app.invoices.models import Invoice
from app.promises.plans import create_plan
from tests.conftest import CUSTOMER, Api, Inbox, invoice_body
from tests.portal_helpers import (
    LONDON,
    THURSDAY_11,
    agree_plan,
    events,
    form_fields,
    kinds,
    links_in,
    reminder_links,
    run_at,
    sent_steps,
    submit,
    text_of,
)

PLAN = {"count": "3", "frequency": "monthly", "first_on": "2026-12-01"}  # 416.66 ×2, 416.68


def _state(api: Api, invoice: str = "inv-1001") -> dict[str, object]:
    reminders: dict[str, object] = api.get(f"/invoices/{invoice}").json()["reminders"]
    return reminders


def _next_send_at(api: Api, invoice: str = "inv-1001") -> datetime:
    upcoming = _state(api, invoice)["next"]
    assert isinstance(upcoming, dict), upcoming
    return datetime.fromisoformat(upcoming["send_at"])


def _sent(outcomes: list[dict[str, object]]) -> list[object]:
    return [o["step"] for o in outcomes if o["result"] == "sent"]


def _subjects(inbox: Inbox, start: int = 0) -> list[str]:
    return [str(m.message["Subject"]) for m in inbox.mails[start:]]


def _second_plan(api: Api, portal: str) -> Any:
    """Ask for a (further) plan through the preview and its confirm button."""
    preview = submit(api, portal, "plan/preview", PLAN | {"first_on": "2026-12-07"})
    if preview.status_code != 200:
        return preview
    hidden = form_fields(preview.text, "plan")
    return api.client.post(hidden.pop("_action"), data=hidden)


# 1 ------------------------------------------------------------------------------------------


def test_ive_paid_during_a_plan_holds_the_instalments_then_the_plan_goes_on(
    api: Api, inbox: Inbox
) -> None:
    portal = reminder_links(api, inbox)["portal"]
    assert agree_plan(api, portal, PLAN).status_code == 200
    api.set_clock(datetime(2026, 11, 27, 10, 0, tzinfo=LONDON))
    claim = submit(api, portal, "paid", {"paid_on": "2026-11-27", "amount": "416.66"})
    assert claim.status_code == 200
    assert _state(api)["state"] == "plan"
    assert _next_send_at(api) >= datetime(2026, 12, 4, 10, 0, tzinfo=LONDON)
    before = len(inbox.mails)
    # Seven days of quiet: neither the instalment's heads-up (30th) nor its due-day email (1st).
    assert run_at(api, 2026, 11, 30) == []
    for day in (1, 2, 3):
        assert run_at(api, 2026, 12, day) == []
    assert len(inbox.mails) == before
    # The hold ends: the instalment ladder goes on where it stands, not the normal ladder.
    assert _sent(run_at(api, 2026, 12, 4, 11)) == ["plan1_i1_overdue"]
    assert sent_steps(api) == ["overdue_3", "plan1_i1_overdue"]
    assert "£416.66" in text_of(inbox.mails[-1])
    # The bank is checked and the payment recorded: the second instalment is next.
    api.post("/invoices/inv-1001/payments", {"external_id": "p1", "amount": "416.66"})
    state = _state(api)
    assert state["state"] == "plan"
    assert state["next"]["step"] == "plan1_i2_upcoming"  # type: ignore[index]
    assert "promise.broken" not in kinds(api)
    # A second plan is still refused, with a page that says why.
    again = _second_plan(api, portal)
    assert again.status_code == 422
    assert "already has a payment plan" in again.text
    assert kinds(api).count("plan.created") == 1


# 2 ------------------------------------------------------------------------------------------


def test_ive_paid_during_a_promise_extends_the_hold_and_keeps_the_promise(
    api: Api, inbox: Inbox
) -> None:
    portal = reminder_links(api, inbox)["portal"]
    assert submit(api, portal, "promise", {"promised_on": "2026-11-27"}).status_code == 200
    api.set_clock(datetime(2026, 11, 27, 10, 0, tzinfo=LONDON))
    claim = submit(api, portal, "paid", {"paid_on": "2026-11-27", "amount": "1250.00"})
    assert claim.status_code == 200
    assert _state(api)["state"] == "promised"
    assert _next_send_at(api) >= datetime(2026, 12, 4, 10, 0, tzinfo=LONDON)
    before = len(inbox.mails)
    # The promise's own hold (27 November + 2 days' grace) ends; the claim's hold does not.
    assert run_at(api, 2026, 11, 30) == []
    for day in (1, 2, 3):
        assert run_at(api, 2026, 12, day) == []
    assert len(inbox.mails) == before
    assert "promise.broken" not in kinds(api)
    assert _state(api)["state"] == "promised"
    assert "Payment promised" in api.client.get(portal).text
    # Nobody found the money by the end of the claim's hold: now the promise is broken.
    assert _sent(run_at(api, 2026, 12, 4, 11)) == ["overdue_10"]
    assert "promise.broken" in kinds(api)
    assert "We had agreed" in text_of(inbox.mails[-1])


# 3 ------------------------------------------------------------------------------------------


def test_a_promise_on_a_disputed_invoice_is_refused(api: Api, inbox: Inbox) -> None:
    portal = reminder_links(api, inbox)["portal"]
    disputed = submit(
        api, portal, "dispute", {"reason": "wrong_amount", "message": "We ordered 40 loaves."}
    )
    assert disputed.status_code == 200
    promise = submit(api, portal, "promise", {"promised_on": "2026-12-04"})
    assert promise.status_code == 422
    assert "being looked into by a person" in promise.text
    assert "nothing has been saved" in promise.text
    assert "promise.created" not in kinds(api)
    assert _state(api) == {"state": "disputed", "next": None}
    before = len(inbox.mails)
    for day in range(27, 31):
        assert run_at(api, 2026, 11, day) == []
    for day in range(1, 31):
        assert run_at(api, 2026, 12, day) == []
    assert len(inbox.mails) == before
    assert _state(api)["state"] == "disputed"


def test_asking_for_a_new_date_on_a_disputed_invoice_leaves_the_dispute_alone(
    api: Api, inbox: Inbox
) -> None:
    portal = reminder_links(api, inbox)["portal"]
    assert submit(api, portal, "promise", {"promised_on": "2026-11-27"}).status_code == 200
    disputed = submit(api, portal, "dispute", {"reason": "quality", "message": "Stale bread."})
    assert disputed.status_code == 200
    api.set_clock(datetime(2026, 11, 28, 10, 0, tzinfo=LONDON))  # the promised day has passed
    again = submit(api, portal, "promise", {"promised_on": "2026-12-05"})
    assert again.status_code == 422 and "being looked into by a person" in again.text
    assert "promise.broken" not in kinds(api)
    assert _state(api) == {"state": "disputed", "next": None}


# 4 ------------------------------------------------------------------------------------------


def test_a_dispute_during_a_plan_then_resume_returns_to_the_plan(api: Api, inbox: Inbox) -> None:
    portal = reminder_links(api, inbox)["portal"]
    assert agree_plan(api, portal, PLAN).status_code == 200
    api.set_clock(datetime(2026, 11, 27, 10, 0, tzinfo=LONDON))
    disputed = submit(api, portal, "dispute", {"reason": "wrong_amount", "message": "40, not 50"})
    assert disputed.status_code == 200
    assert _state(api) == {"state": "disputed", "next": None}
    assert run_at(api, 2026, 11, 30) == []
    resumed = api.post("/invoices/inv-1001/resume")
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["reminders"]["state"] == "plan"
    assert "dispute.resolved" in kinds(api)
    assert _sent(run_at(api, 2026, 11, 30, 11)) == ["plan1_i1_upcoming"]
    assert _sent(run_at(api, 2026, 12, 1)) == ["plan1_i1_due"]
    assert sent_steps(api) == ["overdue_3", "plan1_i1_upcoming", "plan1_i1_due"]
    assert _state(api)["state"] == "plan"


# 5 ------------------------------------------------------------------------------------------


def test_a_promise_on_an_escalated_invoice_is_refused(api: Api, inbox: Inbox) -> None:
    portal = reminder_links(api, inbox)["portal"]
    outcomes = run_at(api, 2027, 2, 19)  # 91 days after the due date
    assert [o["result"] for o in outcomes] == ["escalated"]
    assert _state(api) == {"state": "escalated", "next": None}
    promise = submit(api, portal, "promise", {"promised_on": "2027-02-26"})
    assert promise.status_code == 422
    assert "collections team" in promise.text
    assert "promise.created" not in kinds(api)
    assert _state(api)["state"] == "escalated"


# 6 ------------------------------------------------------------------------------------------


def test_a_lower_amount_due_from_the_invoicing_system_pays_the_first_instalment(
    api: Api, inbox: Inbox
) -> None:
    portal = reminder_links(api, inbox)["portal"]
    assert agree_plan(api, portal, PLAN).status_code == 200
    api.set_clock(datetime(2026, 11, 27, 10, 0, tzinfo=LONDON))
    put = api.put("/invoices/inv-1001", invoice_body(due_on="2026-11-20", amount_due="833.34"))
    assert put.status_code == 200, put.text
    assert put.json()["reminders"]["state"] == "plan"
    assert put.json()["reminders"]["next"]["step"] == "plan1_i2_upcoming"
    before = len(inbox.mails)
    assert run_at(api, 2026, 11, 30) == []
    for day in range(1, 15):
        assert run_at(api, 2026, 12, day) == []
    assert len(inbox.mails) == before
    assert _sent(run_at(api, 2026, 12, 29)) == ["plan1_i2_upcoming"]
    assert "£416.66" in text_of(inbox.mails[-1])
    assert "promise.broken" not in kinds(api)


def test_a_promise_then_the_invoicing_system_says_paid_keeps_it_and_thanks(
    api: Api, inbox: Inbox
) -> None:
    portal = reminder_links(api, inbox)["portal"]
    assert submit(api, portal, "promise", {"promised_on": "2026-12-04"}).status_code == 200
    api.set_clock(datetime(2026, 12, 2, 10, 0, tzinfo=LONDON))
    put = api.put("/invoices/inv-1001", invoice_body(due_on="2026-11-20", amount_due="0.00"))
    assert put.status_code == 200, put.text
    assert put.json()["reminders"] == {"state": "paid", "next": None}
    assert "promise.kept" in kinds(api)
    assert "promise.broken" not in kinds(api)
    before = len(inbox.mails)
    run_at(api, 2026, 12, 2, 11)
    for day in range(3, 20):
        assert run_at(api, 2026, 12, day) == []
    assert _subjects(inbox, before) == [
        "Invoice INV-1001 from Northwind Supplies: thank you for your payment"
    ]


# 7 ------------------------------------------------------------------------------------------


def test_a_broken_promise_resumes_at_the_next_step_with_we_had_agreed(
    api: Api, inbox: Inbox
) -> None:
    portal = reminder_links(api, inbox)["portal"]
    promised = submit(api, portal, "promise", {"promised_on": "2026-12-10", "amount": "800.00"})
    assert promised.status_code == 200
    before = len(inbox.mails)
    # Forty days after the due date: overdue_10, 21 and 31 have all fallen due meanwhile.
    assert _sent(run_at(api, 2026, 12, 30)) == ["overdue_10"]
    broken = events(api, kind="promise.broken")
    assert [e["data"] for e in broken] == [{"promised_on": "2026-12-10", "amount": "800.00"}]
    assert sent_steps(api) == ["overdue_3", "overdue_10"]
    text = text_of(inbox.mails[-1])
    assert "We had agreed that you would pay £800.00" in text and "10 December 2026" in text
    assert len(inbox.mails) == before + 1
    # Then the ladder continues, one email a day at most.
    assert _sent(run_at(api, 2026, 12, 30, 14)) == []
    run_at(api, 2026, 12, 31)
    for day in range(1, 32):
        run_at(api, 2027, 1, day)
    days = [event["at"][:10] for event in events(api, kind="reminder.sent")]
    assert len(days) == len(set(days)), days
    assert sent_steps(api) == ["overdue_3", "overdue_10", "overdue_31", "final_notice"]
    assert "We had agreed" not in text_of(inbox.mails[-1])


# 8 ------------------------------------------------------------------------------------------


def test_a_missed_instalment_quotes_the_instalment_not_an_earlier_promise(
    api: Api, inbox: Inbox
) -> None:
    portal = reminder_links(api, inbox)["portal"]
    promised = submit(api, portal, "promise", {"promised_on": "2026-12-03", "amount": "300.00"})
    assert promised.status_code == 200
    api.set_clock(datetime(2026, 11, 27, 10, 0, tzinfo=LONDON))
    plan = agree_plan(api, portal, PLAN | {"first_on": "2026-12-07"})
    assert plan.status_code == 200
    assert _state(api)["state"] == "plan"
    run_at(api, 2026, 11, 30)
    for day in range(1, 13):
        run_at(api, 2026, 12, day)
    assert "promise.broken" not in kinds(api)
    assert _state(api)["state"] == "plan"
    before = len(inbox.mails)
    assert run_at(api, 2026, 12, 13) == []  # Sunday: missed, but no email on a Sunday
    assert "promise.broken" in kinds(api)
    assert _sent(run_at(api, 2026, 12, 14)) == ["overdue_10"]
    broken = events(api, kind="promise.broken")
    assert broken[-1]["data"]["amount"] == "416.66"
    assert broken[-1]["data"]["promised_on"] == "2026-12-07"
    text = text_of(inbox.mails[-1])
    assert "We had agreed that you would pay £416.66" in text and "7 December 2026" in text
    assert "£300.00" not in text and "3 December" not in text
    assert len(inbox.mails) == before + 1


def test_a_missed_instalment_after_an_old_broken_promise_quotes_the_instalment(
    api: Api, inbox: Inbox, db: Engine
) -> None:
    portal = reminder_links(api, inbox)["portal"]
    promised = submit(api, portal, "promise", {"promised_on": "2026-11-27", "amount": "300.00"})
    assert promised.status_code == 200
    assert _sent(run_at(api, 2026, 11, 30)) == ["overdue_10"]  # "we had agreed £300.00"
    assert "£300.00" in text_of(inbox.mails[-1])
    # The customer may not agree the next arrangement alone; a person sets up a plan.
    refused = _second_plan(api, portal)
    assert refused.status_code == 422 and "a person will" in refused.text
    with session_scope(db) as session:
        invoice = session.exec(select(Invoice).where(Invoice.external_id == "inv-1001")).one()
        create_plan(
            session,
            invoice=invoice,
            count=2,
            first_on=date(2026, 12, 7),
            frequency="monthly",
            now=datetime(2026, 11, 30, 12, 0, tzinfo=LONDON),
            actor="admin",
            source="admin",
        )
    assert _state(api)["state"] == "plan"
    for day in range(1, 14):
        run_at(api, 2026, 12, day)
    before = len(inbox.mails)
    assert _sent(run_at(api, 2026, 12, 14)) == ["overdue_21"]
    text = text_of(inbox.mails[-1])
    assert "We had agreed that you would pay £625.00" in text and "7 December 2026" in text
    assert "£300.00" not in text and "27 November" not in text
    assert len(inbox.mails) == before + 1


# 9 ------------------------------------------------------------------------------------------


def test_promising_again_after_the_promised_day_breaks_the_old_promise(
    api: Api, inbox: Inbox
) -> None:
    portal = reminder_links(api, inbox)["portal"]
    assert submit(api, portal, "promise", {"promised_on": "2026-11-27"}).status_code == 200
    # Saturday 28th: the promised day has passed, still inside the two days' grace.
    api.set_clock(datetime(2026, 11, 28, 10, 0, tzinfo=LONDON))
    again = submit(api, portal, "promise", {"promised_on": "2026-12-05"})
    assert again.status_code == 422
    assert "a person will agree the next one with you" in again.text
    broken = events(api, kind="promise.broken")
    assert [e["data"]["promised_on"] for e in broken] == ["2026-11-27"]
    assert kinds(api).count("promise.created") == 1
    assert "Payment promised" not in again.text
    assert _state(api)["state"] == "active"
    assert _next_send_at(api) >= datetime(2026, 11, 30, 9, 0, tzinfo=LONDON)
    # The reminders resume with "we had agreed" once the grace is over, and it breaks only once.
    before = len(inbox.mails)
    assert _sent(run_at(api, 2026, 11, 30)) == ["overdue_10"]
    assert "We had agreed" in text_of(inbox.mails[-1])
    assert len(inbox.mails) == before + 1
    assert kinds(api).count("promise.broken") == 1
    assert _state(api)["state"] == "active"


# 10 -----------------------------------------------------------------------------------------


def test_a_reply_to_a_combined_reminder_pauses_every_invoice_in_it(api: Api, inbox: Inbox) -> None:
    api.set_clock(THURSDAY_11)
    api.put("/customers/bakery", CUSTOMER)
    api.put("/invoices/inv-1001", invoice_body(due_on="2026-11-20"))
    api.put(
        "/invoices/inv-1002",
        invoice_body(number="INV-1002", due_on="2026-11-20", amount_total="80.00"),
    )
    api.run_scheduler()
    assert len(inbox.mails) == 1
    reminder = inbox.mails[-1].message
    assert "INV-1001" in text_of(inbox.mails[-1]) and "INV-1002" in text_of(inbox.mails[-1])
    reply = EmailMessage()
    reply["From"] = "Harbour Street Bakery <accounts@harbour-bakery.test>"
    reply["To"] = "accounts@northwind.test"
    reply["Subject"] = "Re: " + str(reminder["Subject"])
    reply["Message-ID"] = "<reply-1@harbour-bakery.test>"
    reply["In-Reply-To"] = str(reminder["Message-ID"])
    reply["References"] = str(reminder["Message-ID"])
    reply.set_content("We paid both on Monday; please check.\n")
    api.set_clock(datetime(2026, 11, 27, 10, 0, tzinfo=LONDON))
    response = api.client.post(
        "/api/v1/inbound/default/email",
        content=bytes(reply),
        headers={"Authorization": f"Bearer {api.key}", "Content-Type": "message/rfc822"},
    )
    assert response.status_code == 200, response.text
    for invoice in ("inv-1001", "inv-1002"):
        assert "reply.received" in kinds(api, invoice), invoice
        state = _state(api, invoice)
        assert state["state"] == "paused", invoice
        assert _next_send_at(api, invoice) >= datetime(2026, 12, 2, 10, 0, tzinfo=LONDON)
    before = len(inbox.mails)
    run_at(api, 2026, 11, 30)
    run_at(api, 2026, 12, 1)
    assert len(inbox.mails) == before


# 14 -----------------------------------------------------------------------------------------


def test_resuming_after_a_dispute_sends_the_next_step(api: Api, inbox: Inbox) -> None:
    portal = reminder_links(api, inbox)["portal"]
    disputed = submit(api, portal, "dispute", {"reason": "not_received", "message": "Not here."})
    assert disputed.status_code == 200, disputed.text[-1500:]
    assert run_at(api, 2026, 11, 30) == []
    api.set_clock(datetime(2026, 12, 2, 10, 0, tzinfo=LONDON))
    resumed = api.post("/invoices/inv-1001/resume")
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["reminders"]["state"] == "active"
    assert resumed.json()["reminders"]["next"]["step"] == "overdue_10"
    assert _sent(run_at(api, 2026, 12, 2, 11)) == ["overdue_10"]
    assert sent_steps(api) == ["overdue_3", "overdue_10"]
    assert "We had agreed" not in text_of(inbox.mails[-1])
    assert links_in(text_of(inbox.mails[-1]))["portal"]
