import re
from datetime import date
from pathlib import Path

import pytest

from app.mail.context import InvoiceLine, ReminderFacts, build_reminder_context
from app.mail.render import STEP_OFFSETS, TemplateError, TemplateRenderer, sample_context

from .conftest import TEMPLATE_DIR

STEPS = list(STEP_OFFSETS)
TODAY = date(2025, 6, 30)
REPLY = "https://app.example/p/tok-reply/message"
UNSUBSCRIBE = "https://app.example/p/tok-unsub/unsubscribe"


def make_context(step, *, locale="en", consolidated=False, pay_links=True, **overrides):
    offset, tone = STEP_OFFSETS[step]
    first_due = date.fromordinal(TODAY.toordinal() - offset)
    invoices = [
        InvoiceLine("INV-1001", "EUR", 150_000, 123_450, first_due, "https://pay.example/1001"),
    ]
    if consolidated:
        invoices.append(
            InvoiceLine(
                "INV-1002",
                "EUR",
                20_000,
                20_000,
                date.fromordinal(first_due.toordinal() + 5),
                "https://pay.example/1002",
            )
        )
    if not pay_links:
        invoices = [
            InvoiceLine(
                i.number, i.currency, i.amount_total_minor, i.amount_due_minor, i.due_on, ""
            )
            for i in invoices
        ]
    facts = dict(
        organisation_name="Northwind Joinery Ltd",
        customer_name="Harbour & Finch <Café>",
        locale=locale,
        step_key=step,
        tone=tone,
        invoices=invoices,
        today=TODAY,
        reply_link=REPLY,
        unsubscribe_link=UNSUBSCRIBE,
        late_fee_note="A late fee of 2% per month applies after 30 days."
        if tone != "friendly"
        else None,
        brand_colour="#7a1f5c",
    )
    facts.update(overrides)
    return build_reminder_context(ReminderFacts(**facts))


def assert_clean(rendered):
    for part in (rendered.subject, rendered.text, rendered.html):
        assert "{{" not in part and "{%" not in part and "}}" not in part
    assert "&amp;" not in rendered.text and "&lt;" not in rendered.text
    assert "\n" not in rendered.subject and "\r" not in rendered.subject
    # No external assets: every URL in the HTML is one of ours and none is loaded automatically.
    assert not re.search(r"<(img|link|script|style|iframe)\b|@import|src=", rendered.html, re.I)


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("locale", ["en", "de_DE"])
def test_single_invoice_email_shows_the_facts(renderer, step, locale):
    context = make_context(step, locale=locale)
    rendered = renderer.render(step, locale, context)
    assert_clean(rendered)
    amount = "1.234,50\xa0€" if locale == "de_DE" else "€1,234.50"
    due_on = context["invoice"]["due_on"]
    assert rendered.subject.startswith("Invoice INV-1001 from Northwind Joinery Ltd")
    for part in (rendered.text, rendered.html):
        assert "INV-1001" in part
        assert amount in part
        assert due_on in part
        assert "https://pay.example/1001" in part
        assert REPLY in part
        assert UNSUBSCRIBE in part
    assert "Harbour & Finch <Café>" in rendered.text
    assert "Harbour &amp; Finch &lt;Café&gt;" in rendered.html
    assert "#7a1f5c" in rendered.html
    hrefs = set(re.findall(r'href="([^"]*)"', rendered.html))
    assert hrefs == {"https://pay.example/1001", REPLY, UNSUBSCRIBE}


def test_german_locale_formats_money_and_dates_in_german_with_english_wording(renderer):
    rendered = renderer.render("overdue_10", "de_DE", make_context("overdue_10", locale="de_DE"))
    assert "1.234,50\xa0€" in rendered.text
    assert "20. Juni 2025" in rendered.text  # due date, in German
    assert "checking in" in rendered.text.lower()


MONEY = {
    "en": {"first": "€1,234.50", "second": "€200.00", "total": "€1,434.50"},
    "de_DE": {"first": "1.234,50\xa0€", "second": "200,00\xa0€", "total": "1.434,50\xa0€"},
}


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("locale", ["en", "de_DE"])
def test_consolidated_email_lists_every_invoice_and_the_total(renderer, step, locale):
    context = make_context(step, locale=locale, consolidated=True)
    rendered = renderer.render(step, locale, context)
    assert_clean(rendered)
    assert rendered.subject.startswith("Your invoices from Northwind Joinery Ltd")
    money = MONEY[locale]
    for part in (rendered.text, rendered.html):
        for item, amount, link in [
            (context["invoices"][0], money["first"], "https://pay.example/1001"),
            (context["invoices"][1], money["second"], "https://pay.example/1002"),
        ]:
            assert item["number"] in part and item["due_on"] in part
            assert amount in part and link in part
        assert money["total"] in part


def test_consolidated_mixed_currencies_show_a_total_per_currency(renderer):
    dollars = InvoiceLine("US-7", "USD", 9_900, 9_900, date(2025, 6, 1), "https://pay.example/us7")
    context = make_context(
        "overdue_21",
        invoices=[InvoiceLine("INV-1001", "EUR", 10_000, 10_000, date(2025, 6, 9), ""), dollars],
    )
    rendered = renderer.render("overdue_21", "en", context)
    # Oldest invoice first, and each currency keeps its own total.
    assert "$99.00 + €100.00" in rendered.text
    assert "$99.00 + €100.00" in rendered.html


def test_without_pay_links_the_email_points_to_the_invoice_details(renderer):
    rendered = renderer.render("due_today", "en", make_context("due_today", pay_links=False))
    assert "Pay online" not in rendered.text
    assert "payment details are on the invoice" in rendered.text
    assert 'href=""' not in rendered.html


@pytest.mark.parametrize(
    ("step", "phrases"),
    [
        ("upcoming", ["heads-up", "falls due on", "3 days from now"]),
        ("due_today", ["due for payment today", "does not look right"]),
        ("overdue_3", ["gentle nudge", "holding it up"]),
        ("overdue_10", ["10 days overdue", "agree a date", "smaller payments"]),
        ("overdue_21", ["21 days past its due date", "A late fee of 2% per month", "payment plan"]),
        (
            "overdue_31",
            [
                "31 days overdue",
                "Someone from our team will contact you",
                "the date by which you will pay",
            ],
        ),
        (
            "final_notice",
            ["final notice", "collection agency", "about 30 days from today", "payment plan"],
        ),
    ],
)
def test_each_step_says_what_that_step_is_for(renderer, step, phrases):
    rendered = renderer.render(step, "en", make_context(step))
    for phrase in phrases:
        assert phrase in rendered.text
    if step in {"upcoming", "due_today"}:
        assert "overdue" not in (rendered.text + rendered.subject).lower()


def test_final_notice_names_the_escalation_date_when_known(renderer):
    context = make_context("final_notice", escalation_on=date(2025, 7, 30))
    rendered = renderer.render("final_notice", "en", context)
    assert "by July 30, 2025" in rendered.text
    assert "collections process" in rendered.html


def test_friendly_steps_show_no_late_fee_and_firm_steps_show_it_only_when_set(renderer):
    assert (
        "late fee"
        not in renderer.render(
            "overdue_21", "en", make_context("overdue_21", late_fee_note=None)
        ).text
    )


def test_subject_is_one_line_even_if_names_contain_line_breaks(renderer):
    context = make_context("overdue_3", organisation_name="Evil\r\nBcc: victim@example.com Ltd")
    rendered = renderer.render("overdue_3", "en", context)
    assert "\r" not in rendered.subject and "\n" not in rendered.subject
    assert "Evil Bcc: victim@example.com Ltd" in rendered.subject


@pytest.mark.parametrize("locale", ["de_AT", "xx", "../../etc", ""])
def test_unknown_or_missing_locale_templates_fall_back_to_english(renderer, locale):
    rendered = renderer.render("overdue_3", locale, make_context("overdue_3"))
    assert rendered.subject == "Invoice INV-1001 from Northwind Joinery Ltd: a quick reminder"


def test_a_more_specific_locale_directory_wins_and_shares_the_fallback_layout(tmp_path: Path):
    german = tmp_path / "de"
    german.mkdir()
    (german / "overdue_3.subject.txt").write_text("Rechnung {{ invoice.number }}: Erinnerung\n")
    (tmp_path / "en").symlink_to(TEMPLATE_DIR / "en")
    rendered = TemplateRenderer(tmp_path).render("overdue_3", "de_AT", make_context("overdue_3"))
    assert rendered.subject == "Rechnung INV-1001: Erinnerung"
    assert "gentle nudge" in rendered.text  # English body and layout from the fallback


def test_overrides_replace_files_and_later_edits_are_picked_up():
    sources = {"en/overdue_3.subject.txt": "First {{ invoice.number }}"}
    renderer = TemplateRenderer(TEMPLATE_DIR, overrides=sources.get)
    assert renderer.render("overdue_3", "en", make_context("overdue_3")).subject == "First INV-1001"
    sources["en/overdue_3.subject.txt"] = "Second {{ invoice.number }}"
    sources["en/_layout.txt"] = "{% block body %}{% endblock %}\nEdited footer"
    rendered = renderer.render("overdue_3", "en", make_context("overdue_3"))
    assert rendered.subject == "Second INV-1001"
    assert rendered.text.rstrip().endswith("Edited footer")


def test_a_missing_variable_is_an_error_naming_template_and_line(renderer):
    context = make_context("overdue_3")
    del context["customer"]
    with pytest.raises(TemplateError) as caught:
        renderer.render("overdue_3", "en", context)
    assert caught.value.name == "en/_layout.txt"
    assert caught.value.lineno == 2
    assert "customer" in str(caught.value) and "undefined" in str(caught.value)


def test_an_unknown_step_is_a_template_error(renderer):
    with pytest.raises(TemplateError, match="not found"):
        renderer.render("overdue_99", "en", make_context("overdue_3"))
    with pytest.raises(TemplateError, match="not a valid step key"):
        renderer.render("../secrets", "en", make_context("overdue_3"))


# check_source: what an admin editor calls before saving a template


def test_check_source_accepts_a_good_template(renderer):
    renderer.check_source(
        "en/overdue_3.txt",
        '{% extends "_layout.txt" %}{% block body %}Owed: {{ total_due }}{% endblock %}',
        sample_context("overdue_3"),
    )


@pytest.mark.parametrize(
    "payload",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''|attr('__class__') }}",
        "{{ invoice|attr('__class__')|attr('__mro__') }}",
        "{{ customer.items.__self__.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ links.update({'pay': 'https://evil.example'}) }}",
    ],
)
def test_check_source_refuses_sandbox_escapes(renderer, payload):
    source = f"Hello\n{payload}\n"
    with pytest.raises(TemplateError) as caught:
        renderer.check_source("en/overdue_3.subject.txt", source, sample_context("overdue_3"))
    assert caught.value.name == "en/overdue_3.subject.txt"
    assert caught.value.lineno == 2
    assert "not allowed" in caught.value.reason
    assert "unsafe" in caught.value.reason or "modify" in caught.value.reason


def test_check_source_reports_the_line_of_a_syntax_error(renderer):
    source = "Hello {{ customer.name }}\n\n{% if count > 1 %}\nseveral\n{% endfor %}\n"
    with pytest.raises(TemplateError) as caught:
        renderer.check_source("en/overdue_3.txt", source, sample_context())
    assert caught.value.lineno == 5
    assert "syntax error" in caught.value.reason
    assert str(caught.value).startswith("en/overdue_3.txt, line 5: syntax error")


def test_check_source_reports_an_undefined_variable_with_its_line(renderer):
    source = "<p>Hello</p>\n<p>{{ customer.nickname }}</p>\n"
    with pytest.raises(TemplateError) as caught:
        renderer.check_source("en/overdue_3.html", source, sample_context())
    assert (caught.value.name, caught.value.lineno) == ("en/overdue_3.html", 2)
    assert "nickname" in caught.value.reason


def test_check_source_on_a_layout_renders_the_steps_that_use_it(renderer):
    broken_layout = "{% block body %}{% endblock %}\n{{ links.missing }}\n"
    with pytest.raises(TemplateError, match="missing"):
        renderer.check_source("en/_layout.txt", broken_layout, sample_context())
    with pytest.raises(TemplateError, match="invoice_count"):
        # A layout that drops the body block still renders, but a step's own error surfaces.
        TemplateRenderer(
            TEMPLATE_DIR, {"en/overdue_3.txt": "{{ invoice_count }}"}.get
        ).check_source("en/_layout.txt", "{% block body %}{% endblock %}", sample_context())


def test_check_source_refuses_an_empty_subject_and_a_bad_name(renderer):
    with pytest.raises(TemplateError, match="subject is empty"):
        renderer.check_source("en/overdue_3.subject.txt", "{# nothing #}\n", sample_context())
    with pytest.raises(TemplateError, match="template name"):
        renderer.check_source("../../etc/passwd", "x", sample_context())


def test_html_part_escapes_values_but_text_part_does_not():
    renderer = TemplateRenderer(
        TEMPLATE_DIR, {"en/overdue_3.subject.txt": "{{ customer.name }}"}.get
    )
    context = make_context("overdue_3", customer_name="<script>alert(1)</script> & Co")
    rendered = renderer.render("overdue_3", "en", context)
    assert rendered.subject == "<script>alert(1)</script> & Co"
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in rendered.html


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("consolidated", [False, True])
def test_sample_context_renders_every_default_template(renderer, step, consolidated):
    context = sample_context(step, consolidated=consolidated)
    assert_clean(renderer.render(step, "en", context))
    for part in ("subject.txt", "txt", "html"):
        name = f"en/{step}.{part}"
        renderer.check_source(name, (TEMPLATE_DIR / name).read_text(), context)


@pytest.mark.parametrize(
    "source",
    ["{{ ('x' * 10**11)|length }}", "{{ 9 ** 1000000000 }}", "{{ [0] * 10**9 }}"],
)
def test_results_too_large_for_a_shared_server_are_refused(source: str) -> None:
    renderer = TemplateRenderer(Path("templates/emails"))
    with pytest.raises(TemplateError, match="not allowed in a template"):
        renderer.check_source("en/overdue_3.txt", source, sample_context("overdue_3"))
