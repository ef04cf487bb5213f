"""The customer-side notices: confirmations, thank-you, broken promise and plan instalments."""

import re
from datetime import date
from typing import Any

import pytest

from app.mail.context import InvoiceLine, ReminderFacts, build_reminder_context
from app.mail.render import RenderedEmail, TemplateRenderer

TODAY = date(2026, 11, 24)
NUMBER = "INV-2026-0107"
STEM = f"Invoice {NUMBER} from Northwind Joinery Ltd: "
PAY = "https://app.example/p/tok-pay/pay"
REPLY = "https://app.example/p/tok-reply/message"
UNSUBSCRIBE = "https://app.example/p/tok-unsub/unsubscribe"
BALANCE = "£1,250.00"

PROMISE_FULL = {"amount": BALANCE, "date": "10 December 2026", "full": True}
PROMISE_PART = {"amount": "£500.00", "date": "10 December 2026", "full": False}
PLAN = {
    "instalments": [
        {"number": 1, "amount": "£400.00", "due_on": "1 December 2026"},
        {"number": 2, "amount": "£400.00", "due_on": "1 January 2027"},
        {"number": 3, "amount": "£450.00", "due_on": "1 February 2027"},
    ],
    "count": 3,
    "total": BALANCE,
}
INSTALMENT = {"number": 2, "count": 3, "amount": "£400.00", "due_on": "1 January 2027"}
MESSAGE = "We were quoted <b>£1,000</b> & agreed it by phone.\nSee purchase order A-17."
DISPUTE = {"reason": "The amount is wrong", "message": MESSAGE}
CLAIM = {"paid_on": "20 November 2026", "amount": BALANCE, "reference": "BACS 123"}
RATINGS = [{"score": n, "url": f"https://app.example/p/tok-rate/rate/{n}"} for n in range(1, 6)]

# step, extra, what the reader must see in both the text and the HTML part.
CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("promise_confirmed", {"promise": PROMISE_FULL}, [BALANCE, "10 December 2026"]),
    ("promise_confirmed", {"promise": PROMISE_PART}, ["£500.00", "10 December 2026", BALANCE]),
    (
        "plan_confirmed",
        {"plan": PLAN},
        ["£400.00", "£450.00", "1 December 2026", "1 January 2027", "1 February 2027", BALANCE],
    ),
    ("dispute_received", {"dispute": DISPUTE}, ["The amount is wrong", "purchase order A-17"]),
    ("payment_claim_received", {"claim": CLAIM}, [BALANCE, "20 November 2026", "BACS 123"]),
    ("thank_you", {"rating_links": RATINGS}, [NUMBER, "How did we treat you"]),
    ("promise_broken", {"promise": PROMISE_PART}, ["£500.00", "10 December 2026", BALANCE]),
    (
        "instalment_upcoming",
        {"instalment": INSTALMENT, "plan": PLAN},
        ["£400.00", "1 January 2027"],
    ),
    ("instalment_due", {"instalment": INSTALMENT, "plan": PLAN}, ["£400.00", "1 January 2027"]),
    ("instalment_overdue", {"instalment": INSTALMENT, "plan": PLAN}, ["£400.00", "1 January 2027"]),
]
CONFIRMATIONS = [
    ("promise_confirmed", {"promise": PROMISE_FULL}),
    ("plan_confirmed", {"plan": PLAN}),
    ("dispute_received", {"dispute": DISPUTE}),
    ("payment_claim_received", {"claim": CLAIM}),
    ("thank_you", {"rating_links": RATINGS}),
]
REMINDERS = [
    ("promise_broken", {"promise": PROMISE_PART}),
    ("instalment_upcoming", {"instalment": INSTALMENT, "plan": PLAN}),
    ("instalment_due", {"instalment": INSTALMENT, "plan": PLAN}),
    ("instalment_overdue", {"instalment": INSTALMENT, "plan": PLAN}),
]


def make_facts(step: str, extra: dict[str, Any], *, pay_link: str = PAY) -> ReminderFacts:
    return ReminderFacts(
        organisation_name="Northwind Joinery Ltd",
        customer_name="Harbour & Finch <Café>",
        locale="en_GB",
        step_key=step,
        tone="friendly",
        invoices=[InvoiceLine(NUMBER, "GBP", 150_000, 125_000, date(2026, 11, 10), pay_link)],
        today=TODAY,
        reply_link=REPLY,
        unsubscribe_link=UNSUBSCRIBE,
        sender_name="Priya Shah, accounts",
        extra=extra,
    )


def render(
    renderer: TemplateRenderer, step: str, extra: dict[str, Any], **options: str
) -> RenderedEmail:
    return renderer.render(
        step, "en_GB", build_reminder_context(make_facts(step, extra, **options))
    )


@pytest.mark.parametrize(("step", "extra", "facts"), CASES)
def test_each_notice_shows_its_facts_in_both_parts(renderer, step, extra, facts):
    email = render(renderer, step, extra)

    assert email.subject.startswith(STEM)
    for part in (email.text, email.html):
        for fact in facts:
            assert fact in part
        assert NUMBER in part
        assert REPLY in part
        assert "Priya Shah, accounts" in part
        for leftover in ("{{", "}}", "{%", "%}"):
            assert leftover not in part
    assert "Hello Harbour & Finch <Café>," in email.text
    assert "Hello Harbour &amp; Finch &lt;Café&gt;," in email.html
    assert "&amp;" not in email.text
    assert "&lt;" not in email.text
    assert email.html.lstrip().startswith("<!DOCTYPE html>")


@pytest.mark.parametrize(("step", "extra"), CONFIRMATIONS)
def test_confirmations_say_they_confirm_and_carry_no_reminder_footer(renderer, step, extra):
    email = render(renderer, step, extra)

    for part in (email.text, email.html):
        assert "This email confirms" in part
        assert "You are getting this reminder" not in part
        assert "open invoice in your name" not in part
        assert UNSUBSCRIBE not in part
        assert "opt out" not in part


@pytest.mark.parametrize(("step", "extra"), REMINDERS)
def test_reminders_keep_pay_reply_and_unsubscribe_links(renderer, step, extra):
    email = render(renderer, step, extra)

    assert f"online: {PAY}" in email.text
    assert f'href="{PAY}"' in email.html
    assert f'href="{REPLY}"' in email.html
    assert f'href="{UNSUBSCRIBE}"' in email.html
    assert UNSUBSCRIBE in email.text
    assert "You are getting this reminder" in email.text


def test_promise_confirmation_puts_amount_and_date_in_writing(renderer):
    email = render(renderer, "promise_confirmed", {"promise": PROMISE_FULL})

    assert email.subject == f"{STEM}your payment date, confirmed"
    assert f"You will pay:   {BALANCE}" in email.text
    assert "By:             10 December 2026" in email.text
    assert "not send you any reminders about this invoice before 10 December 2026" in email.text
    assert "reply before then" in email.text
    assert "part of the balance" not in email.text
    assert "Balance due" not in email.html


def test_partial_promise_mentions_the_balance_still_due(renderer):
    email = render(renderer, "promise_confirmed", {"promise": PROMISE_PART})

    assert "You will pay:   £500.00" in email.text
    assert f"Balance due:    {BALANCE}" in email.text
    for part in (email.text, email.html):
        assert "part of the balance" in part
        assert f"{BALANCE} due in total" in part


def test_plan_confirmation_lists_every_instalment_in_order(renderer):
    email = render(renderer, "plan_confirmed", {"plan": PLAN})

    lines = [
        "- Instalment 1 of 3: £400.00, due 1 December 2026",
        "- Instalment 2 of 3: £400.00, due 1 January 2027",
        "- Instalment 3 of 3: £450.00, due 1 February 2027",
    ]
    positions = [email.text.index(line) for line in lines]
    assert positions == sorted(positions)
    assert f"Total: {BALANCE}" in email.text
    assert email.html.count("of 3</td>") == 3
    for part in (email.text, email.html):
        assert "a short reminder" in part
        assert "the plan ends and our usual reminders" in part


def test_dispute_message_is_escaped_in_html_and_verbatim_in_text(renderer):
    email = render(renderer, "dispute_received", {"dispute": DISPUTE})

    assert MESSAGE in email.text
    assert "<b>" not in email.html
    assert "&lt;b&gt;£1,000&lt;/b&gt; &amp; agreed it by phone.<br>See purchase order A-17." in (
        email.html
    )
    for part in (email.text, email.html):
        assert "paused the reminders for this invoice" in part


def test_dispute_without_a_message_quotes_nothing(renderer):
    email = render(renderer, "dispute_received", {"dispute": {**DISPUTE, "message": ""}})

    for part in (email.text, email.html):
        assert "What you wrote" not in part
        assert "The amount is wrong" in part
    assert "<blockquote" not in email.html


def test_payment_claim_shows_the_reference_only_when_given(renderer):
    with_reference = render(renderer, "payment_claim_received", {"claim": CLAIM})
    without = render(renderer, "payment_claim_received", {"claim": {**CLAIM, "reference": ""}})

    assert "Reference:      BACS 123" in with_reference.text
    for part in (with_reference.text, with_reference.html):
        assert "check our bank" in part
        assert "paused the reminders" in part
        assert "If we cannot find it" in part
    for part in (without.text, without.html):
        assert "Reference" not in part


def test_thank_you_has_five_one_click_ratings_and_no_pay_link(renderer):
    email = render(renderer, "thank_you", {"rating_links": RATINGS})

    assert email.subject == f"{STEM}thank you for your payment"
    assert re.findall(r"https://app\.example/p/tok-rate/rate/\d", email.text) == [
        rating["url"] for rating in RATINGS
    ]
    assert re.findall(r'href="(https://app\.example/p/tok-rate/rate/\d)"', email.html) == [
        rating["url"] for rating in RATINGS
    ]
    assert f"1 (poor): {RATINGS[0]['url']}" in email.text
    assert f"5 (excellent): {RATINGS[4]['url']}" in email.text
    for part in (email.text, email.html):
        assert "How did we treat you while this invoice was open?" in part
        assert PAY not in part
        assert "poor" in part
        assert "excellent" in part


@pytest.mark.parametrize(
    ("step", "phrase"),
    [
        ("instalment_upcoming", "falls due on 1 January 2027"),
        ("instalment_due", "is due for payment today"),
        ("instalment_overdue", "the payment plan will end and our usual reminders"),
    ],
)
def test_instalment_emails_ask_for_the_instalment_amount(renderer, step, phrase):
    email = render(renderer, step, {"instalment": INSTALMENT, "plan": PLAN})

    assert "instalment 2 of 3" in email.subject
    assert f"Pay £400.00 online: {PAY}" in email.text
    assert "Pay £400.00 online</a>" in email.html
    for part in (email.text, email.html):
        assert phrase in part
        assert "2 of 3" in part


def test_instalment_email_without_a_pay_link_points_to_the_invoice(renderer):
    email = render(
        renderer, "instalment_due", {"instalment": INSTALMENT, "plan": PLAN}, pay_link=""
    )

    for part in (email.text, email.html):
        assert "The payment details are on the invoice." in part
        assert "Pay £400.00 online" not in part


def test_broken_promise_names_the_agreement_and_asks_to_pay_or_reply_today(renderer):
    email = render(renderer, "promise_broken", {"promise": PROMISE_PART})

    assert email.subject == f"{STEM}the payment we agreed"
    assert "We had agreed that you would pay £500.00" in email.text
    for part in (email.text, email.html):
        assert "by 10 December 2026" in part
        assert "We have not received that payment" in part
        assert "reply today" in part


def test_extra_values_are_added_at_top_level():
    context = build_reminder_context(make_facts("promise_confirmed", {"promise": PROMISE_FULL}))
    plain = build_reminder_context(make_facts("promise_confirmed", {}))

    assert context["promise"] == PROMISE_FULL
    assert {key: value for key, value in context.items() if key != "promise"} == plain


@pytest.mark.parametrize("key", ["invoice", "links", "customer", "sender_name"])
def test_extra_cannot_replace_an_existing_context_key(key):
    with pytest.raises(ValueError, match=key):
        build_reminder_context(make_facts("promise_confirmed", {key: "sneaky", "promise": {}}))
