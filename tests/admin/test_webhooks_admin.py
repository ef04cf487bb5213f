"""The webhooks admin page: list, add (secret shown once), delete, redeliver, re-enable."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text

from tests.admin.conftest import AdminSession, csrf_in
from tests.conftest import Api, api_key_for
from tests.webhooks.support import (
    Receiver,
    deliver,
    make_retries_due,
    receiver,
    send_a_reminder,
    verified,
)

PAGE = "/admin/webhooks"
__all__ = ["receiver"]  # the fixture


def add_by_form(admin: AdminSession, url: str, events: list[str]) -> Any:
    token = csrf_in(admin.get(PAGE).text)
    return admin.client.post(PAGE, data={"csrf_token": token, "url": url, "events": events})


def shown_secret(html: str) -> str:
    match = re.search(r'id="new-secret" readonly value="(whsec_[^"]+)"', html)
    assert match, "the new secret is not on the page"
    return match.group(1)


def test_anonymous_visitors_are_sent_to_the_login_page(api: Api) -> None:
    page = api.client.get(PAGE, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/admin/login")
    posted = api.client.post(PAGE, data={"url": "https://x.test"}, follow_redirects=False)
    assert posted.status_code == 303
    assert api.get("/webhook-endpoints").json() == []


def test_adding_an_endpoint_shows_its_secret_once_and_it_signs(
    admin: AdminSession, receiver: Receiver
) -> None:
    assert "No endpoints yet" in admin.get(PAGE).text
    added = add_by_form(admin, receiver.url(), ["reminder.sent", "invoice.paid"])
    assert added.status_code == 200
    secret = shown_secret(added.text)
    page = admin.get(PAGE).text
    assert secret not in page and receiver.url() in page
    assert "reminder.sent, invoice.paid" in page and ">active<" in page
    [listed] = admin.api.get("/webhook-endpoints").json()
    assert listed["events"] == ["reminder.sent", "invoice.paid"]
    send_a_reminder(admin.api)
    deliver(admin.api)
    [request] = receiver.requests
    assert verified(request, secret)["type"] == "reminder.sent"
    page = admin.get(PAGE).text
    assert "HTTP 200" in page and "delivered" in page


def test_the_form_needs_its_csrf_token(admin: AdminSession) -> None:
    forged = admin.client.post(PAGE, data={"url": "https://erp.test/in", "events": ["*"]})
    assert forged.status_code == 403
    wrong = admin.client.post(
        PAGE, data={"csrf_token": "0" * 64, "url": "https://erp.test/in", "events": ["*"]}
    )
    assert wrong.status_code == 403
    assert admin.api.get("/webhook-endpoints").json() == []


@pytest.mark.parametrize(
    ("url", "events", "reason"),
    [
        ("ftp://erp.test/in", ["*"], "https://"),
        ("https://me:secret@erp.test/in", ["*"], "password"),
        ("https://erp.test/in", [], "at least one event"),
    ],
)
def test_a_bad_endpoint_is_refused_with_the_reason(
    admin: AdminSession, url: str, events: list[str], reason: str
) -> None:
    refused = add_by_form(admin, url, events)
    assert refused.status_code == 422
    assert "Nothing was added" in refused.text and reason in refused.text
    assert 'id="new-secret"' not in refused.text
    assert admin.api.get("/webhook-endpoints").json() == []


def test_redeliver_and_delete(admin: AdminSession, receiver: Receiver) -> None:
    endpoint = admin.api.post(
        "/webhook-endpoints", {"url": receiver.url(), "events": ["reminder.sent"]}
    ).json()
    send_a_reminder(admin.api)
    deliver(admin.api)
    [log] = admin.api.get(f"/webhook-endpoints/{endpoint['id']}/deliveries").json()
    action = f"{PAGE}/{endpoint['id']}/deliveries/{log['id']}/redeliver"
    assert action in admin.get(PAGE).text
    again = admin.post(action, csrf_from=PAGE, follow_redirects=False)
    assert again.status_code == 303
    assert "will be sent again" in admin.get(again.headers["location"]).text
    deliver(admin.api)
    assert len(receiver.requests) == 2
    assert receiver.requests[0].headers["webhook-id"] == receiver.requests[1].headers["webhook-id"]

    deleted = admin.post(f"{PAGE}/{endpoint['id']}/delete", csrf_from=PAGE)
    assert deleted.status_code == 200 and "Deleted the endpoint" in deleted.text
    assert "No endpoints yet" in deleted.text and "(deleted)" in deleted.text  # the log stays
    assert admin.api.get("/webhook-endpoints").json() == []
    assert admin.post(f"{PAGE}/{endpoint['id']}/delete", csrf_from=PAGE).status_code == 404


def test_a_disabled_endpoint_is_flagged_and_can_be_re_enabled(
    admin: AdminSession, receiver: Receiver, db: Engine
) -> None:
    endpoint = admin.api.post(
        "/webhook-endpoints", {"url": receiver.url(), "events": ["reminder.sent"]}
    ).json()
    receiver.status = 500
    send_a_reminder(admin.api)
    deliver(admin.api)
    assert ">failing<" in admin.get(PAGE).text
    with db.begin() as connection:  # stand in for three days of failures
        connection.execute(
            text("UPDATE webhook_endpoint SET failing_since = :at"),
            {"at": (datetime.now(UTC) - timedelta(days=4)).replace(tzinfo=None)},
        )
    make_retries_due(db)
    deliver(admin.api)
    page = admin.get(PAGE).text
    assert ">disabled<" in page and "HTTP 500" in page and "Re-enable" in page
    assert f"Webhook endpoint #{endpoint['id']}" in admin.get("/admin/worklist").text

    enabled = admin.post(f"{PAGE}/{endpoint['id']}/enable", csrf_from=PAGE)
    assert enabled.status_code == 200 and "Re-enabled" in enabled.text
    assert ">active<" in enabled.text
    assert f"Webhook endpoint #{endpoint['id']}" not in admin.get("/admin/worklist").text
    assert admin.api.get("/webhook-endpoints").json()[0]["status"] == "active"
    # Not disabled any more: enabling again is refused and changes nothing.
    assert admin.post(f"{PAGE}/{endpoint['id']}/enable", csrf_from=PAGE).status_code == 409


def test_another_organisations_endpoints_are_not_shown_nor_changed(
    admin: AdminSession, db: Engine
) -> None:
    acme = Api(client=admin.client, key=api_key_for(db, "acme"), slug="acme")
    theirs = acme.post(
        "/webhook-endpoints", {"url": "https://acme.test/hooks", "events": ["*"]}
    ).json()
    assert "acme.test" not in admin.get(PAGE).text
    assert "acme.test" not in admin.get(f"{PAGE}?endpoint={theirs['id']}").text
    for action in ("delete", "enable", "deliveries/1/redeliver"):
        refused = admin.post(f"{PAGE}/{theirs['id']}/{action}", csrf_from=PAGE)
        assert refused.status_code == 404, action
    assert acme.get("/webhook-endpoints").json()[0]["id"] == theirs["id"]
