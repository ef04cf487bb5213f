"""The dashboard's figures for a small story told through the API, the portal and the scheduler."""

from __future__ import annotations

import re
from datetime import datetime
from html import unescape

import pytest
from markupsafe import escape
from sqlalchemy import Engine

from app.admin.charts import Bar, bar_chart
from tests.admin.conftest import AdminSession
from tests.conftest import CUSTOMER, Api, Inbox, api_key_for, invoice_body
from tests.portal_helpers import LONDON, csrf_of, kinds, links_in

CAFE = {**CUSTOMER, "name": "Corner Cafe", "email": "till@corner-cafe.test", "cc": []}
DELI = {**CUSTOMER, "name": "Market Deli", "email": "orders@market-deli.test", "cc": []}


def _euros(number: str, amount: str, issued: str, due: str, customer: str) -> dict[str, str]:
    return invoice_body(
        customer=customer,
        number=number,
        currency="EUR",
        amount_total=amount,
        issued_on=issued,
        due_on=due,
    )


def _portal_of(inbox: Inbox, address: str) -> str:
    mail = next(m for m in reversed(inbox.mails) if address in m.recipients)
    return links_in(mail.message.get_body(("plain",)).get_content())["portal"]


def _portal_post(api: Api, portal: str, action: str, fields: dict[str, str]) -> None:
    page = api.client.get(portal)
    done = api.client.post(f"{portal}/{action}", data={"csrf_token": csrf_of(page.text), **fields})
    assert done.status_code == 200, done.text


def _text(html: str) -> str:
    """The page as a reader sees it: tags dropped, white space squeezed."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def _story(api: Api, inbox: Inbox) -> None:
    """Euro invoices of three customers (and one in pounds), told from 26 Nov to 8 Dec 2026."""
    api.set_clock(datetime(2026, 11, 26, 11, 0, tzinfo=LONDON))
    api.put("/customers/bakery", CUSTOMER)
    api.put("/customers/cafe", CAFE)
    api.put("/customers/deli", DELI)
    api.put("/invoices/inv-1", _euros("A-1", "1000.00", "2026-10-01", "2026-11-20", "bakery"))
    api.put("/invoices/inv-2", _euros("A-2", "400.00", "2026-09-01", "2026-10-20", "cafe"))
    api.put("/invoices/inv-3", _euros("A-3", "250.00", "2026-11-10", "2026-12-20", "deli"))
    api.put("/invoices/inv-4", _euros("A-4", "600.00", "2026-07-01", "2026-08-01", "deli"))
    gbp = invoice_body(number="G-1", issued_on="2026-11-01", due_on="2026-12-31")
    assert api.put("/invoices/inv-gbp", {**gbp, "amount_total": "300.00"}).status_code in (200, 201)
    # Bakery gets overdue_3, the cafe overdue_31; the deli's 90+ day invoice is escalated.
    steps = sorted(o["step"] for o in api.run_scheduler()["outcomes"] if o["result"] == "sent")
    assert steps == ["overdue_3", "overdue_31"]
    bakery, cafe = _portal_of(inbox, CUSTOMER["email"]), _portal_of(inbox, CAFE["email"])
    _portal_post(api, bakery, "promise", {"invoice": "inv-1", "promised_on": "2026-12-04"})
    _portal_post(api, cafe, "promise", {"invoice": "inv-2", "promised_on": "2026-12-01"})
    _portal_post(api, cafe, "message", {"invoice": "inv-2", "message": "Paying next week."})
    # The bakery pays the day after its reminder (a kept promise) and rates us 4 out of 5.
    api.set_clock(datetime(2026, 11, 27, 10, 0, tzinfo=LONDON))
    paid = api.post("/invoices/inv-1/payments", {"external_id": "p1", "amount": "1000.00"})
    assert paid.status_code in (200, 201), paid.text
    thanks = inbox.mails[-1].message.get_body(("plain",)).get_content()
    rate = re.search(r"https://politely\.test(/p/[^\s?]+/rate)\?score=4", thanks)
    assert rate
    form = api.client.get(rate.group(1) + "?score=4")
    rated = api.client.post(rate.group(1), data={"csrf_token": csrf_of(form.text), "score": "4"})
    assert rated.status_code == 200
    # The cafe does not pay by its date: the promise is broken.
    api.set_clock(datetime(2026, 12, 7, 10, 0, tzinfo=LONDON))
    api.run_scheduler()
    api.set_clock(datetime(2026, 12, 8, 12, 0, tzinfo=LONDON))


def _acme_story(api: Api, db: Engine) -> Api:
    """Another organisation with a large debt and a reminder of its own, at the same time."""
    acme = Api(client=api.client, key=api_key_for(db, "acme"), slug="acme")
    acme.put("/customers/bakery", CUSTOMER)
    body = _euros("X-1", "9999.00", "2026-11-01", "2026-11-20", "bakery")
    assert acme.put("/invoices/inv-1", body).status_code in (200, 201)
    return acme


def test_the_dashboard_shows_this_organisations_figures(
    admin: AdminSession, inbox: Inbox, db: Engine
) -> None:
    acme = _acme_story(admin.api, db)
    _story(admin.api, inbox)
    assert "reminder.sent" in kinds(acme, "inv-1")  # acme was reminding too, at the same time
    page = admin.get("/admin/dashboard")
    assert page.status_code == 200
    text = _text(page.text)
    # Open euro invoices: 400 (49 days late), 250 (not yet due), 600 (129 days late).
    assert "Total receivables (open invoices, amount due) €1,250.00" in text
    assert "Overdue €1,000.00" in text
    assert "Other currencies Currency Receivables Overdue GBP £300.00 £0.00" in text
    assert "€1,550.00" not in text  # pounds are never added to euros
    # DSO and CEI, worked out by hand in tests/test_analytics.py for the same invoices.
    assert "Last 30 days €2,000.00 €250.00 €1,250.00 €250.00 150.0 days 50.0%" in text
    assert "Last 90 days €1,000.00 €1,250.00 €1,250.00 €250.00 90.0 days 50.0%" in text
    assert "Reminders sent 2" in text
    assert "Reply rate 50% · 1 of 2 customers reminded" in text
    assert "Promises kept 50% · 1 of 2 promises due" in text
    assert "Average rating 4.0 out of 5 from 1 rating." in text
    assert "9,999" not in text  # acme's invoice is not ours


def test_the_charts_are_inline_svg_with_text_labels(
    admin: AdminSession, inbox: Inbox, db: Engine
) -> None:
    _acme_story(admin.api, db)
    _story(admin.api, inbox)
    page = admin.get("/admin/dashboard?days=90").text
    assert "<script" not in page and "<img" not in page
    charts = re.findall(r"<svg.*?</svg>", page, flags=re.S)
    assert len(charts) == 3  # ageing, steps, ratings
    ageing, steps, ratings = charts
    assert (
        'role="img"' in ageing
        and 'aria-labelledby="ageing-chart-title ageing-chart-desc"' in ageing
    )
    assert '<title id="ageing-chart-title">Amount due by age, EUR</title>' in ageing
    assert "Current (not yet due): €250.00; 1–30 days overdue: €0.00" in ageing  # the <desc>
    assert ">31–60 days overdue</text>" in ageing and ">€400.00</text>" in ageing
    assert ">Over 90 days overdue</text>" in ageing and ">€600.00</text>" in ageing
    # The bakery paid a day after overdue_3; the cafe did not pay after overdue_31.
    assert '<desc id="steps-chart-desc">overdue_3: 1 of 1 paid (100%); ' in steps
    assert "overdue_31: 0 of 1 paid (0%).</desc>" in steps
    assert ">4 out of 5</text>" in ratings and ">1 rating</text>" in ratings


def test_the_period_selector_chooses_which_activity_counts(
    admin: AdminSession, inbox: Inbox, db: Engine
) -> None:
    _story(admin.api, inbox)
    # Forty days after the reminders: outside the last 30 days, inside the last 90.
    admin.api.set_clock(datetime(2027, 1, 5, 12, 0, tzinfo=LONDON))
    recent = _text(admin.get("/admin/dashboard?days=30").text)
    assert "Activity over the last 30 days Reminders sent 0" in recent
    assert "Reply rate — · no customers reminded yet" in recent
    longer = _text(admin.get("/admin/dashboard?days=90").text)
    assert "Activity over the last 90 days Reminders sent 2" in longer
    assert "Reply rate 50% · 1 of 2 customers reminded" in longer


def test_an_empty_organisation_and_a_bad_period(admin: AdminSession) -> None:
    page = admin.get("/admin/dashboard")
    text = _text(page.text)
    assert page.status_code == 200
    assert "Total receivables (open invoices, amount due) €0.00" in text
    assert "Last 30 days €0.00 €0.00 €0.00 €0.00 — —" in text
    assert "No reminders were sent in this period." in text
    assert "No customer rated us in this period." in text
    bad = admin.get("/admin/dashboard?days=45")
    assert bad.status_code == 422 and "The period must be 30 or 90 days." in bad.text


def test_anonymous_visitors_are_sent_to_the_login_page(api: Api) -> None:
    response = api.client.get("/admin/dashboard?days=90", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/login?next=/admin/dashboard"


@pytest.mark.parametrize("label", ["<b>1–30</b>", 'a"b'])
def test_chart_text_is_escaped(label: str) -> None:
    svg = str(bar_chart(chart_id="c", title=label, description=label, bars=[Bar(label, 1, label)]))
    assert label not in svg
    assert svg.count(str(escape(label))) == 4  # title, desc, label and value of the bar
