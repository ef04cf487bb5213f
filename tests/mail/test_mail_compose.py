import email
import email.policy
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from app.mail.compose import compose_reminder, make_message_id
from app.mail.render import RenderedEmail, TemplateRenderer, sample_context

from .conftest import TEMPLATE_DIR

SENT_AT = datetime(2025, 3, 24, 9, 30, tzinfo=timezone(timedelta(hours=1)))
UNSUBSCRIBE = "https://politely.example.com/p/" + "t" * 120 + "/unsubscribe?x=1&y=2"


def rendered() -> RenderedEmail:
    return RenderedEmail(
        subject="Invoice INV-7 from Müller & Söhne GmbH: a quick reminder",
        text="Hello Zoë,\n\nYou owe 1.234,50\xa0€ & thanks.\n.a line starting with a dot\n",
        html="<p>Hello Zoë, you owe 1.234,50&nbsp;€ &amp; thanks.</p>\n",
    )


def compose(**overrides):
    values = dict(
        rendered=rendered(),
        from_name="Zoë Müller, Accounts",
        from_address="billing@northwind.example",
        to=["ap@customer.example"],
        cc=["owner@customer.example"],
        reply_to="reply+abc123@in.northwind.example",
        message_id="<m3@northwind.example>",
        in_reply_to="<m2@northwind.example>",
        references=["<m1@northwind.example>", "<m2@northwind.example>"],
        unsubscribe_url=UNSUBSCRIBE,
        sent_at=SENT_AT,
    )
    values.update(overrides)
    return compose_reminder(**values)


def parse(message):
    raw = message.as_bytes()
    assert all(byte < 128 for byte in raw), "the message must be 7-bit clean"
    return email.message_from_bytes(raw, policy=email.policy.default)


def plain(part) -> str:
    # Bodies parsed from wire bytes keep the CRLF line endings of the wire.
    return part.get_content().replace("\r\n", "\n")


def test_message_is_multipart_alternative_with_text_first_then_html():
    parsed = parse(compose())
    assert parsed.get_content_type() == "multipart/alternative"
    parts = list(parsed.iter_parts())
    assert [part.get_content_type() for part in parts] == ["text/plain", "text/html"]
    assert plain(parts[0]) == rendered().text
    assert plain(parts[1]) == rendered().html
    assert parts[0].get_content_charset() == "utf-8"


def test_headers_survive_the_round_trip():
    parsed = parse(compose())
    assert parsed["Subject"] == "Invoice INV-7 from Müller & Söhne GmbH: a quick reminder"
    sender = parsed["From"].addresses[0]
    assert (sender.display_name, sender.addr_spec) == (
        "Zoë Müller, Accounts",
        "billing@northwind.example",
    )
    assert [a.addr_spec for a in parsed["To"].addresses] == ["ap@customer.example"]
    assert [a.addr_spec for a in parsed["Cc"].addresses] == ["owner@customer.example"]
    assert parsed["Reply-To"].addresses[0].addr_spec == "reply+abc123@in.northwind.example"
    assert parsed["Date"].datetime == SENT_AT
    assert parsed["Message-ID"] == "<m3@northwind.example>"
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed["List-Unsubscribe"] == f"<{UNSUBSCRIBE}>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_threading_headers_list_every_earlier_message_in_order():
    parsed = parse(compose())
    assert parsed["In-Reply-To"] == "<m2@northwind.example>"
    assert parsed["References"].split() == ["<m1@northwind.example>", "<m2@northwind.example>"]


def test_in_reply_to_is_added_to_references_when_missing_and_first_message_has_neither():
    parsed = parse(compose(references=["<m1@northwind.example>"]))
    assert parsed["References"].split() == ["<m1@northwind.example>", "<m2@northwind.example>"]
    first = parse(compose(in_reply_to=None, references=[]))
    assert first["In-Reply-To"] is None and first["References"] is None


def test_many_references_fold_without_encoding_the_ids():
    ids = [make_message_id("northwind.example") for _ in range(12)]
    parsed = parse(compose(references=ids, in_reply_to=ids[-1]))
    assert parsed["References"].split() == ids
    raw = compose(references=ids).as_bytes().decode("ascii")
    references_block = raw.split("References:", 1)[1].split("\r\nAuto-Submitted:", 1)[0]
    assert "=?" not in references_block
    assert all(len(line) <= 78 for line in references_block.split("\r\n"))


def test_message_ids_are_unique_and_well_formed():
    ids = {make_message_id("northwind.example") for _ in range(500)}
    assert len(ids) == 500
    for message_id in ids:
        assert message_id.startswith("<") and message_id.endswith("@northwind.example>")
    assert make_message_id("bücher.example").endswith("@xn--bcher-kva.example>")


@pytest.mark.parametrize(
    "field",
    [
        {"rendered": RenderedEmail("Hi\r\nBcc: victim@example.com", "t", "h")},
        {"rendered": RenderedEmail("Hi\nthere", "t", "h")},
        {"from_name": "Accounts\r\nBcc: victim@example.com"},
        {"from_address": "billing@northwind.example\r\nBcc: victim@example.com"},
        {"to": ["ap@customer.example\nBcc: victim@example.com"]},
        {"cc": ["owner@customer.example\r\n"]},
        {"reply_to": "reply@in.example\r\nX-Evil: 1"},
        {"message_id": "<m3@northwind.example>\r\nBcc: victim@example.com"},
        {"in_reply_to": "<m2@northwind.example>\nX: y"},
        {"references": ["<m1@northwind.example>\r\nBcc: v@example.com"]},
        {"unsubscribe_url": "https://x.example/u\r\nBcc: victim@example.com"},
    ],
)
def test_line_breaks_in_any_header_field_are_refused(field):
    with pytest.raises(ValueError):
        compose(**field)


@pytest.mark.parametrize(
    "field",
    [
        {"to": []},
        {"to": ["not-an-address"]},
        {"to": ["a@b@c"]},
        {"from_address": "jürgen@northwind.example"},
        {"message_id": "no-brackets@northwind.example"},
        {"unsubscribe_url": "not a url"},
        {"sent_at": datetime(2025, 3, 24, 9, 30)},
    ],
)
def test_unusable_values_are_refused(field):
    with pytest.raises(ValueError):
        compose(**field)


def test_rendered_reminder_composes_into_a_readable_email():
    renderer = TemplateRenderer(TEMPLATE_DIR)
    context = sample_context("overdue_10")
    out = renderer.render("overdue_10", "en", context)
    parsed = parse(
        compose(
            rendered=out,
            unsubscribe_url=context["links"]["unsubscribe"],
            sent_at=datetime(2025, 3, 24, tzinfo=UTC),
        )
    )
    assert parsed["Subject"] == out.subject
    text = parsed.get_body(("plain",)).get_content()
    html = parsed.get_body(("html",)).get_content()
    assert "Harbour & Finch Café" in text and "&amp;" not in text
    assert "Harbour &amp; Finch Café" in html
    assert context["links"]["pay"] in text and context["links"]["pay"] in html


def test_composed_message_is_written_as_is(tmp_path: Path):
    # The bytes are stable: writing and reading them again changes nothing a reader sees.
    message = compose()
    path = tmp_path / "m.eml"
    path.write_bytes(message.as_bytes())
    again = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert again["Subject"] == message["Subject"]
    assert plain(again.get_body(("plain",))) == rendered().text
