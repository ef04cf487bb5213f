"""What the pass does when mail goes wrong, and the per-customer rules of sending."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlmodel import select

from app.db import session_scope
from app.dunning.models import SendLog
from app.worklist.models import WorklistItem
from tests.conftest import CUSTOMER, Api, Inbox, invoice_body

LONDON = ZoneInfo("Europe/London")
THURSDAY_11 = datetime(2026, 11, 26, 11, 0, tzinfo=LONDON)


def _due_today(api: Api, *numbers: str, customer: dict | None = None) -> None:
    api.set_clock(THURSDAY_11)
    api.put("/customers/bakery", customer or CUSTOMER)
    for number in numbers or ("INV-1001",):
        api.put(f"/invoices/{number.lower()}", invoice_body(number=number, due_on="2026-11-26"))


def _worklist(engine: Engine) -> list[tuple[str, str]]:
    with session_scope(engine) as session:
        items = session.exec(select(WorklistItem).order_by(WorklistItem.id)).all()
        return [(item.kind, item.reason) for item in items]


def _timeline_kinds(api: Api, invoice: str = "inv-1001") -> list[str]:
    return [e["kind"] for e in api.get(f"/invoices/{invoice}/timeline").json()]


def test_a_temporary_smtp_failure_is_retried_later(api: Api, inbox: Inbox) -> None:
    _due_today(api)
    inbox.reply_code = "451 4.3.0 mailbox busy, try later"
    report = api.run_scheduler()
    assert [o["result"] for o in report["outcomes"]] == ["retry"]
    assert inbox.mails == []
    assert "reminder.failed" in _timeline_kinds(api)
    next_try = api.get("/invoices/inv-1001").json()["reminders"]["next"]
    assert next_try["step"] == "due_today"
    inbox.reply_code = None
    assert api.run_scheduler()["outcomes"] == []  # not before the back-off has passed
    api.set_clock(THURSDAY_11 + timedelta(minutes=6))
    assert [o["result"] for o in api.run_scheduler()["outcomes"]] == ["sent"]
    assert len(inbox.mails) == 1


def test_a_refused_recipient_is_marked_bounced_and_put_on_the_worklist(
    api: Api, inbox: Inbox, db: Engine
) -> None:
    _due_today(api)
    inbox.refuse["owner@harbour-bakery.test"] = "550 5.1.1 no such user"
    assert [o["result"] for o in api.run_scheduler()["outcomes"]] == ["sent"]
    assert inbox.mails[0].recipients == ["accounts@harbour-bakery.test"]
    contacts = {c["email"]: c["bounced"] for c in api.get("/customers/bakery").json()["contacts"]}
    assert contacts == {"accounts@harbour-bakery.test": False, "owner@harbour-bakery.test": True}
    assert [kind for kind, _ in _worklist(db)] == ["bounced"]
    # The next reminder no longer goes to the bounced address.
    api.set_clock(datetime(2026, 11, 30, 10, 0, tzinfo=LONDON))
    api.run_scheduler()
    assert inbox.mails[-1].recipients == ["accounts@harbour-bakery.test"]


def test_every_recipient_refused_leaves_a_human_to_find_another_way(
    api: Api, inbox: Inbox, db: Engine
) -> None:
    _due_today(api)
    inbox.reply_code = "550 5.1.1 no such user"
    assert [o["result"] for o in api.run_scheduler()["outcomes"]] == ["bounced"]
    api.set_clock(datetime(2026, 11, 30, 10, 0, tzinfo=LONDON))
    inbox.reply_code = None
    assert [o["result"] for o in api.run_scheduler()["outcomes"]] == ["unreachable"]
    assert inbox.mails == []
    assert api.get("/invoices/inv-1001").json()["reminders"] == {
        "state": "unreachable",
        "next": None,
    }
    assert [kind for kind, _ in _worklist(db)] == ["bounced", "bounced", "unreachable"]
    # The business supplies a working address: the reminders pick up again.
    api.put("/customers/bakery", {**CUSTOMER, "email": "new@harbour-bakery.test", "cc": []})
    assert api.get("/invoices/inv-1001").json()["reminders"]["state"] == "active"
    assert [o["result"] for o in api.run_scheduler()["outcomes"]] == ["sent"]
    assert inbox.mails[-1].recipients == ["new@harbour-bakery.test"]


def test_a_send_with_unknown_outcome_is_in_doubt_and_never_repeated(
    api: Api, inbox: Inbox, db: Engine
) -> None:
    _due_today(api)
    inbox.drop_after_data = True
    assert [o["result"] for o in api.run_scheduler()["outcomes"]] == ["in_doubt"]
    inbox.drop_after_data = False
    for minutes in (10, 60, 600):
        api.set_clock(THURSDAY_11 + timedelta(minutes=minutes))
        assert api.run_scheduler()["outcomes"] == []
    assert [kind for kind, _ in _worklist(db)] == ["in_doubt"]
    assert api.get("/invoices/inv-1001").json()["reminders"]["next"]["step"] == "overdue_3"


def test_a_send_left_half_done_by_a_crash_is_in_doubt(api: Api, inbox: Inbox, db: Engine) -> None:
    _due_today(api)
    with session_scope(db) as session:
        invoice_id = session.exec(select(SendLog.id)).first()  # nothing logged yet
        assert invoice_id is None
        from app.invoices.models import Invoice

        invoice = session.exec(select(Invoice)).one()
        assert invoice.id is not None
        session.add(
            SendLog(
                organisation_id=invoice.organisation_id,
                invoice_id=invoice.id,
                customer_id=invoice.customer_id,
                step="due_today",
                tone="friendly",
                status="sending",
                message_id="<crashed@northwind.test>",
                at=THURSDAY_11,
                logged_at=datetime.now(UTC) - timedelta(hours=1),
            )
        )
    assert api.run_scheduler()["outcomes"] == []
    assert inbox.mails == []
    with session_scope(db) as session:
        assert session.exec(select(SendLog.status)).one() == "in_doubt"
    assert [kind for kind, _ in _worklist(db)] == ["in_doubt"]


def test_several_invoices_due_together_make_one_email(api: Api, inbox: Inbox) -> None:
    api.set_clock(THURSDAY_11)
    api.put("/customers/bakery", CUSTOMER)
    api.put("/invoices/inv-1001", invoice_body(number="INV-1001", due_on="2026-11-26"))
    api.put(
        "/invoices/inv-0990",
        invoice_body(number="INV-0990", due_on="2026-11-05", amount_total="80.00"),
    )
    report = api.run_scheduler()
    assert sorted((o["invoice"], o["step"], o["result"]) for o in report["outcomes"]) == [
        ("inv-0990", "overdue_21", "sent"),
        ("inv-1001", "due_today", "sent"),
    ]
    assert len(inbox.mails) == 1
    text = inbox.mails[0].message.get_body(("plain",)).get_content()
    assert "INV-1001" in text and "INV-0990" in text
    assert "£1,330.00" in text  # the total of both
    ids = {o["message_id"] for o in report["outcomes"]}
    assert ids == {inbox.mails[0].message["Message-ID"]}
    sent = [
        e for e in api.get("/invoices/inv-0990/timeline").json() if e["kind"] == "reminder.sent"
    ]
    assert sent[0]["data"]["tone"] == "firm"
    # The one email speaks in the firmest tone of the two (overdue_21's wording).
    assert inbox.mails[0].message["Subject"] == (
        "Your invoices from Northwind Supplies: payment overdue"
    )


def test_at_most_one_email_per_customer_per_day(api: Api, inbox: Inbox) -> None:
    _due_today(api, "INV-1001")
    api.run_scheduler()
    api.put("/invoices/inv-1002", invoice_body(number="INV-1002", due_on="2026-11-26"))
    report = api.run_scheduler()
    assert [(o["invoice"], o["result"]) for o in report["outcomes"]] == [("inv-1002", "deferred")]
    assert len(inbox.mails) == 1
    api.set_clock(datetime(2026, 11, 27, 9, 30, tzinfo=LONDON))
    report = api.run_scheduler()
    assert [(o["invoice"], o["step"], o["result"]) for o in report["outcomes"]] == [
        ("inv-1002", "due_today", "sent")
    ]
    assert len(inbox.mails) == 2


def test_the_firm_step_adds_a_call_task_and_escalation_a_worklist_item(
    api: Api, inbox: Inbox, db: Engine
) -> None:
    api.set_clock(datetime(2026, 11, 26, 11, 0, tzinfo=LONDON))
    api.put("/customers/bakery", CUSTOMER)
    api.put("/invoices/inv-1001", invoice_body(due_on="2026-10-26"))  # 31 days late
    api.run_scheduler()
    assert [kind for kind, _ in _worklist(db)] == ["call"]
    api.set_clock(datetime(2027, 1, 26, 11, 0, tzinfo=LONDON))  # +92 days
    report = api.run_scheduler()
    assert [(o["step"], o["result"]) for o in report["outcomes"]] == [("escalate", "escalated")]
    assert len(inbox.mails) == 1  # escalation writes to nobody
    assert [kind for kind, _ in _worklist(db)] == ["call", "escalated"]


def test_an_opted_out_or_missing_address_is_never_silently_dropped(
    api: Api, inbox: Inbox, db: Engine
) -> None:
    _due_today(api)
    from app.customers.models import Contact

    with session_scope(db) as session:
        for contact in session.exec(select(Contact)).all():
            contact.opted_out_at = datetime.now(UTC)
            session.add(contact)
    assert [o["result"] for o in api.run_scheduler()["outcomes"]] == ["unreachable"]
    assert inbox.mails == []
    assert [kind for kind, _ in _worklist(db)] == ["unreachable"]


def test_a_policy_step_without_its_own_template_uses_its_tone(api: Api, inbox: Inbox) -> None:
    api.set_clock(THURSDAY_11)
    api.put("/customers/bakery", {**CUSTOMER, "policy": "repeat_late"})
    api.put("/invoices/inv-1001", invoice_body(due_on="2026-11-19"))  # 7 days late
    schedule = api.get("/invoices/inv-1001/schedule").json()["steps"]
    assert schedule[0]["step"] == "overdue_7" and schedule[0]["tone"] == "firm"
    report = api.run_scheduler()
    assert [(o["step"], o["result"]) for o in report["outcomes"]] == [("overdue_7", "sent")]
    firm_subject = inbox.mails[0].message["Subject"]
    api.put("/customers/other", {**CUSTOMER, "email": "ap@other.test", "cc": []})
    api.put(
        "/invoices/inv-2", invoice_body(customer="other", number="INV-2", due_on="2026-11-05")
    )  # overdue_21, firm
    api.run_scheduler()
    assert firm_subject.replace("INV-1001", "INV-2") == inbox.mails[1].message["Subject"]


def test_replies_come_back_to_a_tagged_inbound_address(db: Engine, settings, inbox: Inbox) -> None:
    from fastapi.testclient import TestClient

    from app.links import reply_token
    from app.main import create_app
    from tests.conftest import api_key_for

    tagged = settings.model_copy(update={"inbound_domain": "in.northwind.test"})
    with TestClient(create_app(tagged, engine=db)) as client:
        api = Api(client=client, key=api_key_for(db, "default"), slug="default")
        _due_today(api)
        api.run_scheduler()
    reply_to = inbox.mails[0].message["Reply-To"].addresses[0].addr_spec
    local, _, domain = reply_to.partition("@")
    assert domain == "in.northwind.test"
    from app.invoices.models import Invoice

    with session_scope(db) as session:
        invoice = session.exec(select(Invoice)).one()
        assert invoice.id is not None
        expected = reply_token(
            settings.secret_key,
            organisation_id=invoice.organisation_id,
            customer_id=invoice.customer_id,
            invoice_id=invoice.id,
        )
    assert local == f"reply+{expected}"
