"""The template editor: edits reach real emails, the sandbox refuses, tenants stay apart."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import select

from app.db import session_scope
from app.organisations.models import Organisation
from app.users.service import create_user
from tests.admin.conftest import PASSWORD, AdminSession, log_in
from tests.conftest import CUSTOMER, Api, Inbox, api_key_for, invoice_body
from tests.portal_helpers import THURSDAY_11

EDITOR = "/admin/templates/en/overdue_3"
SHIPPED = "this is just a gentle nudge"
FIRST = "Our records show this invoice is still open, so here is a first note from Ann."
SECOND = "Ann from accounts here again: this invoice still needs your attention."


def shipped() -> dict[str, str]:
    folder = Path(__file__).parents[2] / "templates" / "emails" / "en"
    return {
        "subject": (folder / "overdue_3.subject.txt").read_text(),
        "text": (folder / "overdue_3.txt").read_text(),
        "html": (folder / "overdue_3.html").read_text(),
    }


def draft(wording: str, **changes: str) -> dict[str, str]:
    sources = {part: source.replace(SHIPPED, wording) for part, source in shipped().items()}
    return {**sources, **changes}


def save(admin: AdminSession, sources: dict[str, str], path: str = EDITOR) -> Any:
    return admin.post(f"{path}/save", sources, csrf_from=path, follow_redirects=False)


def part_of(inbox: Inbox, kind: str = "plain") -> str:
    body = inbox.mails[-1].message.get_body((kind,))
    assert body is not None
    return str(body.get_content())


def send_overdue_3(api: Api, customer: str, email: str, invoice: str) -> None:
    """A customer with an invoice six days overdue: the pass sends the overdue_3 step."""
    api.set_clock(THURSDAY_11)
    assert api.put(f"/customers/{customer}", {**CUSTOMER, "email": email, "cc": []}).is_success
    body = invoice_body(customer=customer, number=invoice.upper(), due_on="2026-11-20")
    assert api.put(f"/invoices/{invoice}", body).is_success
    sent = api.run_scheduler()["outcomes"]
    assert [(o["invoice"], o["step"], o["result"]) for o in sent] == [
        (invoice, "overdue_3", "sent")
    ]


def grab(pattern: str, page: str) -> str:
    """The first group of `pattern` in a page, unescaped as a browser would show it."""
    match = re.search(pattern, page, re.S)
    assert match, f"nothing like {pattern!r} on the page"
    return html.unescape(match.group(1))


def version_ids(page: str) -> list[str]:
    return re.findall(r'name="version_id" value="(\d+)"', page)


def invoice_option(page: str, number: str) -> str:
    match = re.search(rf'<option value="(\d+)"[^>]*>{number} ', page)
    assert match, f"{number} is not offered for previews"
    return match.group(1)


def test_the_list_shows_every_email_step_and_the_special_emails(admin: AdminSession) -> None:
    page = admin.get("/admin/templates")
    assert page.status_code == 200
    for step in ("upcoming", "overdue_3", "overdue_7", "account_call_21", "final_notice"):
        assert f'href="/admin/templates/en/{step}"' in page.text
    for special in ("promise_broken", "instalment_due", "dispute_received", "thank_you"):
        assert f'href="/admin/templates/en/{special}"' in page.text
    assert "escalate" not in page.text  # no email, nothing to edit
    assert "Shipped default" in page.text and "Edited" not in page.text
    # A step without a text of its own starts from its tone's shipped email.
    overdue_7 = admin.get("/admin/templates/en/overdue_7")
    assert overdue_7.status_code == 200 and "overdue_21 email" in overdue_7.text
    for missing in (
        "/admin/templates/en/escalate",
        "/admin/templates/en/nope",
        "/admin/templates/zz/overdue_3",
    ):
        assert admin.get(missing).status_code == 404
    german = admin.get("/admin/templates?locale=de")
    assert 'href="/admin/templates/de/overdue_3"' in german.text
    assert admin.get("/admin/templates?locale=klingon").status_code == 422


def test_an_edit_reaches_the_next_email_and_rollback_and_reset_bring_back_the_old(
    admin: AdminSession, inbox: Inbox
) -> None:
    editor = admin.get(EDITOR)
    assert editor.status_code == 200 and SHIPPED in editor.text
    assert "Nobody has edited this email yet" in editor.text

    first = save(admin, draft(FIRST))
    assert first.status_code == 303 and "Saved+as+version+1" in first.headers["location"]
    subject = "Invoice {{ invoice.number }}: still open with {{ organisation.name }}\n"
    assert save(admin, draft(SECOND, subject=subject)).status_code == 303
    listing = admin.get("/admin/templates").text
    assert "Edited, version 2" in listing and "ann@northwind.test" in listing

    send_overdue_3(admin.api, "bakery", "accounts@harbour-bakery.test", "inv-1001")
    assert SECOND in part_of(inbox) and SHIPPED not in part_of(inbox)
    assert (
        inbox.mails[-1].message["Subject"] == "Invoice INV-1001: still open with Northwind Supplies"
    )
    assert SECOND in part_of(inbox, "html")

    page = admin.get(EDITOR).text
    assert SECOND in page and "version 2</strong>" in page
    oldest = version_ids(page)[-1]
    rolled = admin.post(
        f"{EDITOR}/rollback", {"version_id": oldest}, csrf_from=EDITOR, follow_redirects=False
    )
    assert rolled.status_code == 303 and "Rolled+back+to+version+1" in rolled.headers["location"]
    send_overdue_3(admin.api, "cafe", "orders@corner-cafe.test", "inv-2001")
    assert FIRST in part_of(inbox) and SECOND not in part_of(inbox)
    assert inbox.mails[-1].recipients == ["orders@corner-cafe.test"]

    reset = admin.post(f"{EDITOR}/reset", csrf_from=EDITOR, follow_redirects=False)
    assert reset.status_code == 303 and "shipped+default" in reset.headers["location"]
    send_overdue_3(admin.api, "florist", "books@florist.test", "inv-3001")
    assert SHIPPED in part_of(inbox) and FIRST not in part_of(inbox)
    history = admin.get(EDITOR).text
    assert "reset to the shipped default" in history and "rolled back to version 1" in history
    assert "Shipped default" in admin.get("/admin/templates").text


def test_history_and_the_diff_with_the_previous_version(admin: AdminSession) -> None:
    save(admin, {**draft(FIRST), "note": "first try"})
    save(admin, draft(SECOND))
    page = admin.get(EDITOR).text
    assert page.count("ann@northwind.test</td>") == 2 and "first try" in page
    assert page.count("Show diff with the previous version") == 2
    newest, oldest = re.findall(r"\?diff=(\d+)#diff", page)
    diff = admin.get(f"{EDITOR}?diff={newest}")
    assert diff.status_code == 200
    shown = grab(r'<h3 id="diff">.*?<pre>(.*?)</pre>', diff.text)
    assert any(line.startswith("+") and SECOND in line for line in shown.splitlines())
    assert any(line.startswith("-") and FIRST in line for line in shown.splitlines())
    first = html.unescape(admin.get(f"{EDITOR}?diff={oldest}").text)
    assert "What version 1 changed from the shipped default" in first
    assert f"-{SHIPPED}" not in first and any(
        line.startswith("+") and FIRST in line for line in first.splitlines()
    )
    assert admin.get(f"{EDITOR}?diff=999999").status_code == 404
    assert admin.get(f"{EDITOR}?diff=abc").status_code == 404
    # A version of another step is not this page's to show.
    assert admin.get(f"/admin/templates/en/overdue_10?diff={newest}").status_code == 404


SSTI = [
    ("text", "Hello\n{{ ''.__class__.__mro__ }}\n", "line 2", "'__class__' of 'str'"),
    ("subject", "{{ cycler.__init__.__globals__ }}", "line 1", "'__init__'"),
    ("html", "<p>\n\n{{ ''|attr('__class__') }}</p>", "line 3", "'__class__' of 'str'"),
    ("text", "{{ lipsum.__globals__['os'].popen('id').read() }}", "line 1", "'__globals__'"),
]


@pytest.mark.parametrize(("part", "payload", "line", "reason"), SSTI)
def test_sandbox_escapes_are_refused_on_save_and_preview(
    admin: AdminSession, part: str, payload: str, line: str, reason: str
) -> None:
    sources = {**draft(FIRST), part: payload}
    for action in ("save", "preview"):
        refused = admin.post(f"{EDITOR}/{action}", sources, csrf_from=EDITOR)
        assert refused.status_code == 422
        message = html.unescape(refused.text)
        assert "not allowed in a template" in message and reason in message and line in message
        assert payload in message  # the draft stays in the textarea to be fixed
        assert "Preview on" not in refused.text
    assert "Nobody has edited this email yet" in admin.get(EDITOR).text


def test_nothing_in_a_refused_draft_is_ever_run(admin: AdminSession, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payload = f"{{{{ cycler.__init__.__globals__.os.system('touch {marker}') }}}}"
    for action in ("save", "preview", "test"):
        assert (
            admin.post(
                f"{EDITOR}/{action}", draft(FIRST, text=payload), csrf_from=EDITOR
            ).status_code
            == 422
        )
    assert not marker.exists()


def test_syntax_errors_and_unknown_names_are_refused_with_the_line(admin: AdminSession) -> None:
    broken = draft(FIRST, text="Dear customer,\n\nInvoice {{ invoice.number }\nThanks\n")
    refused = admin.post(f"{EDITOR}/save", broken, csrf_from=EDITOR)
    assert refused.status_code == 422
    assert "en/overdue_3.txt, line 3: syntax error: unexpected &#39;}&#39;" in refused.text
    unclosed = draft(FIRST, text="Dear customer,\n{% if count == 1 %}\nOne invoice.\n")
    refused = admin.post(f"{EDITOR}/save", unclosed, csrf_from=EDITOR)
    assert refused.status_code == 422 and "line 3: syntax error: Unexpected end" in refused.text
    unknown = draft(FIRST, html="<p>Hi</p>\n<p>{{ invoice.colour }}</p>\n")
    refused = admin.post(f"{EDITOR}/preview", unknown, csrf_from=EDITOR)
    assert refused.status_code == 422
    assert "en/overdue_3.html, line 2: undefined variable" in html.unescape(refused.text)
    empty = admin.post(f"{EDITOR}/save", draft(FIRST, subject="  \n"), csrf_from=EDITOR)
    assert empty.status_code == 422 and "the subject is empty" in empty.text
    assert "Nobody has edited this email yet" in admin.get(EDITOR).text
    unchanged = save(admin, shipped())
    assert "Nothing+was+changed" in unchanged.headers["location"]


def test_preview_on_a_real_invoice_shows_its_amount_due_and_saves_nothing(
    admin: AdminSession, inbox: Inbox
) -> None:
    api = admin.api
    api.set_clock(THURSDAY_11)
    api.put("/customers/bakery", CUSTOMER)
    api.put("/invoices/inv-1001", invoice_body(amount_due="830.40", due_on="2026-11-20"))
    choice = invoice_option(admin.get(EDITOR).text, "INV-1001")
    shown = admin.post(f"{EDITOR}/preview", {**draft(FIRST), "invoice": choice}, csrf_from=EDITOR)
    assert shown.status_code == 200
    assert "Preview on invoice INV-1001 of Harbour Street Bakery" in shown.text
    text = grab(r"<h3>Text version</h3>\s*<pre>(.*?)</pre>", shown.text)
    assert FIRST in text and "£830.40" in text and "20 November 2026" in text
    assert "https://politely.test/p/" in text  # the customer's own signed links
    frame = re.search(r'<iframe sandbox srcdoc="([^"]*)"', shown.text)
    assert frame and "<" not in frame[1]  # the email's HTML stays inside the attribute
    assert "£830.40" in html.unescape(frame[1]) and FIRST in html.unescape(frame[1])
    assert "Subject:</strong> Invoice INV-1001 from Northwind Supplies" in shown.text
    assert f'<option value="{choice}" selected>' in shown.text
    sample = admin.post(f"{EDITOR}/preview", draft(FIRST), csrf_from=EDITOR)
    assert "Preview on the sample invoice" in sample.text and "INV-2025-0042" in sample.text
    assert "Nobody has edited this email yet" in admin.get(EDITOR).text
    assert inbox.mails == []


def test_special_emails_check_and_preview_with_their_own_values(admin: AdminSession) -> None:
    path = "/admin/templates/en/thank_you"
    page = admin.get(path).text
    text = grab(r'name="text"[^>]*>\n(.*?)</textarea>', page)
    sources = {
        "subject": "Thank you for paying {{ invoice.number }}\n",
        "text": text.replace("How did we treat you", "How was your experience with us"),
        "html": grab(r'name="html"[^>]*>\n(.*?)</textarea>', page),
    }
    shown = admin.post(f"{path}/preview", sources, csrf_from=path)
    assert shown.status_code == 200 and "How was your experience with us" in shown.text
    assert "rate?score=5" in shown.text
    assert save(admin, sources, path).status_code == 303
    assert "Edited, version 1" in admin.get("/admin/templates").text


def test_a_test_email_goes_to_the_admin_alone_marked_test(
    admin: AdminSession, inbox: Inbox
) -> None:
    api = admin.api
    api.set_clock(THURSDAY_11)
    api.put("/customers/bakery", CUSTOMER)
    api.put("/invoices/inv-1001", invoice_body(due_on="2026-11-20"))
    choice = invoice_option(admin.get(EDITOR).text, "INV-1001")
    sent = admin.post(f"{EDITOR}/test", {**draft(FIRST), "invoice": choice}, csrf_from=EDITOR)
    assert sent.status_code == 200 and "is on its way to ann@northwind.test" in sent.text
    assert FIRST in sent.text  # the draft is still in the textareas
    [mail] = inbox.mails
    assert mail.recipients == ["ann@northwind.test"]
    assert (
        mail.message["Subject"]
        == "[Test] Invoice INV-1001 from Northwind Supplies: a quick reminder"
    )
    assert FIRST in part_of(inbox) and "£1,250.00" in part_of(inbox)
    assert "harbour-bakery" not in str(mail.message["To"]) + str(mail.message["Cc"])
    assert "Nobody has edited this email yet" in admin.get(EDITOR).text


def test_a_line_break_in_the_subject_cannot_add_a_header(admin: AdminSession, inbox: Inbox) -> None:
    subject = "Reminder\r\nBcc: victim@evil.test\r\nX-Injected: yes\n{{ invoice.number }}"
    sent = admin.post(f"{EDITOR}/test", draft(FIRST, subject=subject), csrf_from=EDITOR)
    assert sent.status_code == 200
    [mail] = inbox.mails
    assert mail.recipients == ["ann@northwind.test"]
    assert mail.message["Bcc"] is None and mail.message["X-Injected"] is None
    assert (
        mail.message["Subject"]
        == "[Test] Reminder Bcc: victim@evil.test X-Injected: yes INV-2025-0042"
    )


def test_a_broken_draft_sends_no_test_email(admin: AdminSession, inbox: Inbox) -> None:
    refused = admin.post(f"{EDITOR}/test", draft(FIRST, text="{% for %}"), csrf_from=EDITOR)
    assert refused.status_code == 422 and "syntax error" in refused.text
    assert inbox.mails == []


def test_forms_need_the_csrf_token(admin: AdminSession) -> None:
    forged = admin.client.post(f"{EDITOR}/save", data=draft(FIRST))
    assert forged.status_code == 403
    assert "Nobody has edited this email yet" in admin.get(EDITOR).text
    anonymous = TestClient(admin.client.app, base_url="https://politely.test")
    page = anonymous.get(EDITOR, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/admin/login")


def acme_admin(client: TestClient, db: Engine) -> tuple[TestClient, Api]:
    api = Api(client=client, key=api_key_for(db, "acme"), slug="acme")
    with session_scope(db) as session:
        organisation = session.exec(select(Organisation).where(Organisation.slug == "acme")).one()
        create_user(session, organisation=organisation, email="zed@acme.test", password=PASSWORD)
    browser = TestClient(client.app, base_url="https://politely.test")
    assert log_in(browser, "zed@acme.test").status_code == 303
    return browser, api


def test_another_organisation_sees_none_of_this_and_keeps_the_shipped_text(
    admin: AdminSession, inbox: Inbox, db: Engine
) -> None:
    acme, acme_api = acme_admin(admin.client, db)
    send_overdue_3(acme_api, "acme-shop", "till@acme-shop.test", "acme-1")
    acme_invoice = invoice_option(acme.get(EDITOR).text, "ACME-1")
    inbox.reset()

    save(admin, draft(FIRST))
    save(admin, draft(SECOND))
    ours = admin.get(EDITOR).text
    version = version_ids(ours)[0]
    assert "ACME-1" not in ours
    refused = admin.post(
        f"{EDITOR}/preview", {**draft(FIRST), "invoice": acme_invoice}, csrf_from=EDITOR
    )
    assert refused.status_code == 404
    assert (
        admin.post(
            f"{EDITOR}/test", {**draft(FIRST), "invoice": acme_invoice}, csrf_from=EDITOR
        ).status_code
        == 404
    )
    assert inbox.mails == []

    theirs = acme.get(EDITOR).text
    assert SHIPPED in theirs and FIRST not in theirs and SECOND not in theirs
    assert "Nobody has edited this email yet" in theirs
    assert "Edited" not in acme.get("/admin/templates").text
    assert acme.get(f"{EDITOR}?diff={version}").status_code == 404
    token = grab(r'name="csrf_token" value="([^"]+)"', theirs)
    stolen = acme.post(f"{EDITOR}/rollback", data={"csrf_token": token, "version_id": version})
    assert stolen.status_code == 404
    assert "Nobody has edited this email yet" in acme.get(EDITOR).text

    acme_api.put("/customers/acme-bar", {**CUSTOMER, "email": "tab@acme-bar.test", "cc": []})
    acme_api.put(
        "/invoices/acme-2", invoice_body(customer="acme-bar", number="ACME-2", due_on="2026-11-20")
    )
    acme_api.run_scheduler()
    [mail] = inbox.mails
    assert mail.recipients == ["tab@acme-bar.test"] and SHIPPED in part_of(inbox)


def test_the_preview_keeps_the_customers_links_from_working(admin) -> None:  # type: ignore[no-untyped-def]
    page = admin.get("/admin/templates/en/overdue_3")
    assert page.status_code == 200
    form = {
        "subject": "Invoice {{ invoice.number }}",
        "text": "Pay here: {{ links.pay }}",
        "html": '<p><a href="{{ links.pay }}">Pay</a></p>',
        "invoice": "sample",
    }
    preview = admin.post(
        "/admin/templates/en/overdue_3/preview", form, csrf_from="/admin/templates/en/overdue_3"
    )
    assert preview.status_code == 200, preview.text[-2000:]
    # The iframe's HTML sends every link to a new window, which its sandbox refuses to open.
    assert 'srcdoc="&lt;base target=&#34;_blank&#34;&gt;' in preview.text
