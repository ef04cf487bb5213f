"""GET/PATCH /organisation and the `politely keys` commands, as a business uses them."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from app.db import session_scope
from app.organisations.service import get_organisation_by_slug, revoke_api_keys
from tests.conftest import CUSTOMER, Api, Inbox, invoice_body

LONDON = ZoneInfo("Europe/London")
STRIPE_SECRET = "whsec_test_0123456789abcdefWXYZ"


def test_get_shows_identity_defaults_and_generated_secrets(api: Api) -> None:
    body = api.get("/organisation").json()
    assert body["slug"] == "default" and body["name"] == "Northwind Supplies"
    assert body["default_timezone"] == "UTC" and body["brand_colour"] == "#2f5d8a"
    assert body["payments_webhook_secret"].startswith("whsec_")
    assert body["inbound_secret"].startswith("in_")
    assert body["stripe_webhook_secret"] == {"set": False, "last4": None}
    assert body["mailgun_signing_key"] == {"set": False, "last4": None}
    assert api.client.get("/api/v1/organisation").status_code == 401


def test_patch_changes_only_the_fields_sent(api: Api) -> None:
    change = {
        "from_name": "Northwind Accounts",
        "from_address": "ar@northwind.test",
        "reply_to": "credit@northwind.test",
        "inbound_domain": "Reply.Northwind.test",
        "brand_colour": "#AA3300",
        "logo_url": "https://northwind.test/logo.png",
        "default_locale": "de-DE",
        "default_timezone": "Europe/Berlin",
        "default_currency": "chf",
        "default_country": "de",
        "payment_instructions": "IBAN DE02 1203 0000 0000 2020 51\nReference: invoice number",
        "thank_you_email": False,
    }
    response = api.client.patch(
        "/api/v1/organisation", json=change, headers={"Authorization": f"Bearer {api.key}"}
    )
    assert response.status_code == 200, response.text
    body = api.get("/organisation").json()
    assert {key: body[key] for key in change} == {
        **change,
        "inbound_domain": "reply.northwind.test",
        "brand_colour": "#aa3300",
        "default_locale": "de_DE",
        "default_currency": "CHF",
        "default_country": "DE",
    }
    assert body["name"] == "Northwind Supplies"  # not sent, not changed
    cleared = _patch(api, {"logo_url": None, "default_country": None})
    assert cleared.status_code == 200
    assert cleared.json()["logo_url"] is None and cleared.json()["default_country"] is None
    assert cleared.json()["from_name"] == "Northwind Accounts"


def _patch(api: Api, body: object) -> object:
    return api.client.patch(
        "/api/v1/organisation", json=body, headers={"Authorization": f"Bearer {api.key}"}
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"from_name": "Northwind\r\nBcc: victim@example.test"}, "from_name"),
        ({"name": "Evil\nCorp"}, "name"),
        ({"from_address": "ar@northwind.test\r\nBcc: victim@example.test"}, "from_address"),
        ({"reply_to": "not an address"}, "reply_to"),
        ({"inbound_domain": "reply.example.com\r\nX: y"}, "inbound_domain"),
        ({"inbound_domain": "-bad-.example"}, "inbound_domain"),
        ({"brand_colour": "red"}, "brand_colour"),
        ({"brand_colour": "#12345"}, "brand_colour"),
        ({"logo_url": "http://northwind.test/logo.png"}, "logo_url"),
        ({"logo_url": "javascript:alert(1)"}, "logo_url"),
        ({"default_timezone": "Mars/Olympus"}, "default_timezone"),
        ({"default_locale": "xx_YY_ZZ"}, "default_locale"),
        ({"default_currency": "XXX"}, "default_currency"),
        ({"default_country": "DEU"}, "default_country"),
        ({"default_timezone": None}, "default_timezone"),
        ({"name": ""}, "name"),
        ({"thank_you_email": "yes"}, "thank_you_email"),
        ({"stripe_webhook_secret": "sk_live_not_a_webhook_secret"}, "stripe_webhook_secret"),
        ({"mailgun_signing_key": "key with spaces"}, "mailgun_signing_key"),
        ({"rotate": ["stripe_webhook_secret"]}, "rotate"),
        ({"slug": "other"}, "slug"),
        ({"inbound_secret": "in_mine"}, "inbound_secret"),
        ({"colour": "#000000"}, "colour"),
    ],
)
def test_bad_values_are_422_with_the_field_and_change_nothing(
    api: Api, body: dict[str, object], field: str
) -> None:
    before = api.get("/organisation").json()
    # A valid change in the same request must not be applied either.
    response = _patch(api, {"from_name": "Changed", **body})
    assert response.status_code == 422, response.text
    assert field in response.json()["detail"][0]["loc"]
    assert api.get("/organisation").json() == before


def test_pasted_secrets_are_write_only(api: Api) -> None:
    response = _patch(
        api, {"stripe_webhook_secret": STRIPE_SECRET, "mailgun_signing_key": "k-9f8e"}
    )
    assert response.status_code == 200
    for answer in (response, api.get("/organisation")):
        assert STRIPE_SECRET not in answer.text and "k-9f8e" not in answer.text
        assert answer.json()["stripe_webhook_secret"] == {"set": True, "last4": "WXYZ"}
        assert answer.json()["mailgun_signing_key"] == {"set": True, "last4": "9f8e"}
    cleared = _patch(api, {"stripe_webhook_secret": None})
    assert cleared.json()["stripe_webhook_secret"] == {"set": False, "last4": None}
    assert cleared.json()["mailgun_signing_key"]["set"] is True


def test_rotating_a_generated_secret_replaces_only_that_one(api: Api) -> None:
    before = api.get("/organisation").json()
    rotated = _patch(api, {"rotate": ["payments_webhook_secret"]}).json()
    assert rotated["payments_webhook_secret"].startswith("whsec_")
    assert rotated["payments_webhook_secret"] != before["payments_webhook_secret"]
    assert rotated["inbound_secret"] == before["inbound_secret"]
    both = _patch(api, {"rotate": ["inbound_secret", "payments_webhook_secret"]}).json()
    assert both["inbound_secret"] != before["inbound_secret"]
    assert both["payments_webhook_secret"] != rotated["payments_webhook_secret"]


def test_reminders_go_out_with_the_organisation_identity(api: Api, inbox: Inbox) -> None:
    assert (
        _patch(
            api,
            {
                "from_name": "Northwind Credit Control",
                "from_address": "credit@northwind.test",
                "brand_colour": "#aa3300",
            },
        ).status_code
        == 200
    )
    api.set_clock(datetime(2026, 11, 23, 8, 0, tzinfo=LONDON))
    api.put("/customers/bakery", CUSTOMER)
    api.put("/invoices/inv-1001", invoice_body(due_on="2026-11-26"))
    api.set_clock(datetime(2026, 11, 23, 9, 30, tzinfo=LONDON))
    assert api.run_scheduler()["sent"] == 1
    (mail,) = inbox.mails
    assert mail.message["From"] == "Northwind Credit Control <credit@northwind.test>"
    html = mail.message.get_body(("html",))
    assert html is not None and "#aa3300" in html.get_content().lower()


def _politely(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "POLITELY_DATABASE_URL": f"sqlite:///{tmp_path / 'politely.db'}",
        "POLITELY_OUTBOX_DIR": str(tmp_path / "outbox"),
    }
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        check=False,
    )


def test_cli_lists_and_revokes_keys(tmp_path: Path) -> None:
    created = _politely(tmp_path, "keys", "create", "--org", "default", "--name", "books")
    key = created.stdout.strip().splitlines()[-1]
    _politely(tmp_path, "orgs", "create", "acme")
    _politely(tmp_path, "keys", "create", "--org", "acme", "--name", "acme-books")
    listed = _politely(tmp_path, "keys", "list", "--org", "default")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.strip().splitlines()
    assert lines[0].split() == ["PREFIX", "CREATED", "REVOKED", "NAME"]
    assert len(lines) == 2 and lines[1].startswith(key[:11]) and lines[1].endswith("books")
    assert " - " in lines[1] and key not in listed.stdout and "acme-books" not in listed.stdout
    # Another organisation's key cannot be revoked through this one.
    other = _politely(tmp_path, "keys", "list", "--org", "acme").stdout.splitlines()[1].split()[0]
    refused = _politely(tmp_path, "keys", "revoke", "--org", "default", "--prefix", other)
    assert refused.returncode == 2 and "no API key with prefix" in refused.stderr
    revoked = _politely(tmp_path, "keys", "revoke", "--org", "default", "--prefix", key[:11])
    assert revoked.returncode == 0 and f"revoked API key {key[:11]} (books)" in revoked.stdout
    after = _politely(tmp_path, "keys", "list", "--org", "default").stdout.splitlines()[1]
    assert " - " not in after and after.endswith("books")
    assert "acme-books" in _politely(tmp_path, "keys", "list", "--org", "acme").stdout


def test_a_revoked_key_stops_working(api: Api, db: Engine) -> None:
    assert api.get("/organisation").status_code == 200
    with session_scope(db) as session:
        organisation = get_organisation_by_slug(session, "default")
        assert organisation.id is not None
        revoke_api_keys(session, organisation_id=organisation.id, prefix=api.key[:11])
    response = api.get("/organisation")
    assert response.status_code == 401 and "revoked" in response.text
