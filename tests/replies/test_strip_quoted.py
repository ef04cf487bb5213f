"""What the customer wrote, without the quoted reminder and the signature; reply tokens."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.replies.inbound import reply_tokens, strip_quoted


@pytest.mark.parametrize(
    "history",
    [
        "On Mon, 3 Jun 2024 at 10:00, Acme Billing <billing@acme.example> wrote:\n> Dear Jane,",
        "On Mon, Jun 3, 2024 at 10:00 AM Acme Billing <\nbilling@acme.example> wrote:\n> Dear",
        "On 3 Jun 2024, at 10:00, Acme Billing <billing@acme.example> wrote:\n\n> Dear Jane,",
        "Am 03.06.2024 um 10:00 schrieb Acme Billing <billing@acme.example>:\n> Sehr geehrte",
        "Le lun. 3 juin 2024 à 10:00, Acme <billing@acme.example> a écrit :\n> Madame,",
        "El lun, 3 jun 2024 a las 10:00, Acme (<billing@acme.example>) escribió:\n> Estimada,",
        "-----Original Message-----\nFrom: Acme Billing\nSent: 3 June 2024\nDear Jane,",
        "From: Acme Billing <billing@acme.example>\nSent: Monday, June 3, 2024 10:00 AM\n"
        "To: Jane <jane@customer.example>\nSubject: Invoice INV-1001\n\nDear Jane,",
        "*From:* Acme Billing <billing@acme.example>\n*Sent:* Monday, June 3, 2024 10:00\n"
        "*To:* Jane\n*Subject:* Invoice INV-1001\n\nDear Jane,",
        "Von: Acme Billing <billing@acme.example>\nGesendet: Montag, 3. Juni 2024 10:00\n"
        "An: Jane\nBetreff: Rechnung\n\nSehr geehrte",
        "________________________________\nFrom: Acme Billing <billing@acme.example>\nDear Jane,",
    ],
)
def test_quoted_history_is_cut(history: str) -> None:
    text = f"Paid yesterday, see attachment.\n\nJane\n\n{history}\n> invoice INV-1001 is due\n"

    assert strip_quoted(text) == "Paid yesterday, see attachment.\n\nJane"


def test_signature_block_and_crlf_are_dropped() -> None:
    text = "Thanks, will pay Friday.\r\n\r\n-- \r\nJane Doe | Customer Ltd\r\n+44 20 0000\r\n"

    assert strip_quoted(text) == "Thanks, will pay Friday."


def test_bottom_posted_and_inline_answers_are_kept() -> None:
    text = (
        "On Mon, 3 Jun 2024 at 10:00, Acme <billing@acme.example> wrote:\n"
        "> Invoice INV-1001 is due. Can you pay by Friday?\n"
        "Yes, Friday works.\n"
        "> Do you need a copy?\n"
        "No thanks.\n"
    )

    assert strip_quoted(text) == "Yes, Friday works.\nNo thanks."


def test_ordinary_sentences_are_not_taken_for_quote_markers() -> None:
    text = (
        "On second thought, here is what our bank wrote:\n"
        "On Friday we paid 500 EUR.\nThe bank wrote:\n"
        "From: our side, all is settled.\n"
        "Thanks"
    )

    assert strip_quoted(text) == text


def test_never_empty_when_there_is_unquoted_text() -> None:
    assert strip_quoted("-- \nJane Doe") == "--\nJane Doe"
    only_history = "-----Original Message-----\nFrom: Acme\nSent: today\nPlease pay."
    assert strip_quoted(only_history) == only_history
    assert strip_quoted("> only quoted\n> lines") == ""
    assert strip_quoted("\n\n  \n") == ""


@given(st.text(max_size=500))
def test_strip_quoted_is_total_and_keeps_unquoted_text(text: str) -> None:
    result = strip_quoted(text)
    unquoted = [
        line for line in text.replace("\r", "\n").split("\n") if not line.lstrip().startswith(">")
    ]
    assert bool(result.strip()) == any(line.strip() for line in unquoted)


def test_reply_tokens_in_order_without_repeats() -> None:
    recipients = [
        "reply+1-2-3-ab12cd34ef56@in.example",
        "billing@acme.example",
        "Acme <Reply+4-5-6-AB12CD34EF56@in.example>",
        "reply+1-2-3-ab12cd34ef56@in.example",
        "reply+@in.example",
        "not-an-address",
    ]

    assert reply_tokens(recipients) == ["1-2-3-ab12cd34ef56", "4-5-6-ab12cd34ef56"]
