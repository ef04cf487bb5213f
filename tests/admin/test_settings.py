"""The settings page: the organisation's identity and secrets, and its API keys."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app.db import session_scope
from app.organisations.service import create_api_key, get_organisation_by_slug
from tests.admin.conftest import AdminSession, log_in, make_user
from tests.conftest import Api

STRIPE_SECRET = "whsec_admin_0123456789ABCD"
FORM = {
    "name": "Northwind Supplies",
    "from_name": "Northwind Credit Control",
    "from_address": "credit@northwind.test",
    "reply_to": "",
    "inbound_domain": "",
    "brand_colour": "#aa3300",
    "logo_url": "https://northwind.test/logo.png",
    "default_locale": "en_GB",
    "default_timezone": "Europe/London",
    "default_currency": "GBP",
    "default_country": "GB",
    "payment_instructions": "Sort code 12-34-56\nAccount 12345678",
    "thank_you_email": "on",
}


def _save(admin: AdminSession, **changes: str) -> Any:
    return admin.post(
        "/admin/settings", {**FORM, **changes}, csrf_from="/admin/settings", follow_redirects=False
    )


def _organisation(api: Api) -> dict[str, Any]:
    response = api.get("/organisation")
    assert response.status_code == 200
    return dict(response.json())


def test_the_page_shows_settings_secrets_and_keys_with_a_token_in_every_form(
    admin: AdminSession,
) -> None:
    page = admin.get("/admin/settings")
    assert page.status_code == 200
    organisation = _organisation(admin.api)
    assert organisation["payments_webhook_secret"] in page.text
    assert organisation["inbound_secret"] in page.text
    assert "https://politely.test/api/v1/webhooks/default/stripe" in page.text
    assert admin.api.key[:11] in page.text and admin.api.key not in page.text
    forms = page.text.count('<form method="post"')
    assert forms >= 5 and page.text.count('name="csrf_token"') == forms
    assert "<script" not in page.text
    assert "not set" in page.text


def test_saving_the_form_changes_what_the_api_shows(admin: AdminSession) -> None:
    saved = _save(admin)
    assert saved.status_code == 303 and "Settings+saved" in saved.headers["location"]
    assert "Settings saved." in admin.get(saved.headers["location"]).text
    organisation = _organisation(admin.api)
    assert organisation["from_name"] == "Northwind Credit Control"
    assert organisation["brand_colour"] == "#aa3300"
    assert organisation["payment_instructions"] == "Sort code 12-34-56\nAccount 12345678"
    assert organisation["reply_to"] is None and organisation["thank_you_email"] is True
    unticked = {key: value for key, value in FORM.items() if key != "thank_you_email"}
    admin.post("/admin/settings", unticked, csrf_from="/admin/settings")
    assert _organisation(admin.api)["thank_you_email"] is False


def test_bad_values_are_explained_beside_the_field_and_nothing_changes(
    admin: AdminSession,
) -> None:
    before = _organisation(admin.api)
    for field, value, reason in [
        ("from_name", "Northwind\r\nBcc: victim@example.test", "one line of plain text"),
        ("brand_colour", "blue", "#rrggbb"),
        ("logo_url", "http://northwind.test/logo.png", "https://"),
        ("default_timezone", "Europe/Narnia", "IANA time zone"),
        ("default_currency", "", "ISO 4217"),
        ("stripe_webhook_secret", "sk_live_123", "whsec_"),
    ]:
        response = _save(admin, **{field: value})
        assert response.status_code == 422, field
        assert f'id="e-{field}"' in response.text and reason in response.text, field
        assert "Nothing was changed." in response.text
        if field != "stripe_webhook_secret":  # a secret is never written back into the page
            assert 'aria-invalid="true"' in response.text
    assert _organisation(admin.api) == before


def test_a_form_without_the_csrf_token_changes_nothing(admin: AdminSession) -> None:
    before = _organisation(admin.api)
    response = admin.client.post(
        "/admin/settings", data={**FORM, "from_name": "Forged"}, follow_redirects=False
    )
    assert response.status_code == 403
    rotate = admin.client.post("/admin/settings/rotate", data={"secret": "inbound_secret"})
    assert rotate.status_code == 403
    assert _organisation(admin.api) == before


def test_pasted_secrets_show_only_their_last_four_characters(admin: AdminSession) -> None:
    assert _save(admin, stripe_webhook_secret=STRIPE_SECRET).status_code == 303
    page = admin.get("/admin/settings").text
    assert "set, ending in ABCD" in page and STRIPE_SECRET not in page
    assert _organisation(admin.api)["stripe_webhook_secret"] == {"set": True, "last4": "ABCD"}
    _save(admin)  # left blank: kept
    assert _organisation(admin.api)["stripe_webhook_secret"]["set"] is True
    _save(admin, clear_stripe_webhook_secret="on")
    assert _organisation(admin.api)["stripe_webhook_secret"] == {"set": False, "last4": None}


def test_rotating_a_generated_secret(admin: AdminSession) -> None:
    before = _organisation(admin.api)
    response = admin.post(
        "/admin/settings/rotate", {"secret": "inbound_secret"}, csrf_from="/admin/settings"
    )
    assert response.status_code == 200 and "New inbound email secret generated" in response.text
    after = _organisation(admin.api)
    assert after["inbound_secret"] != before["inbound_secret"]
    assert after["inbound_secret"] in response.text
    assert after["payments_webhook_secret"] == before["payments_webhook_secret"]
    refused = admin.post(
        "/admin/settings/rotate", {"secret": "stripe_webhook_secret"}, csrf_from="/admin/settings"
    )
    assert refused.status_code == 422


def test_a_new_key_is_shown_once_and_works(admin: AdminSession) -> None:
    created = admin.post(
        "/admin/settings/keys", {"key_name": "ledger"}, csrf_from="/admin/settings"
    )
    assert created.status_code == 201
    key = re.search(r"<pre>(pk_[^<]+)</pre>", created.text)
    assert key is not None and created.headers["Cache-Control"] == "no-store"
    api = Api(client=admin.client, key=key.group(1), slug="default")
    assert api.get("/organisation").status_code == 200
    page = admin.get("/admin/settings").text
    assert key.group(1) not in page and key.group(1)[:11] in page and "ledger" in page
    blank = admin.post("/admin/settings/keys", {"key_name": " "}, csrf_from="/admin/settings")
    assert blank.status_code == 422 and 'id="e-key_name"' in blank.text


def _key_id(page: str, prefix: str) -> str:
    match = re.search(
        rf"<code>{re.escape(prefix)}…</code>.*?/admin/settings/keys/(\d+)/revoke", page, re.S
    )
    assert match, f"no revoke button for {prefix}"
    return match.group(1)


def test_revoking_a_key_stops_it_and_another_organisations_key_is_404(
    admin: AdminSession, db: Engine
) -> None:
    page = admin.get("/admin/settings").text
    key_id = _key_id(page, admin.api.key[:11])
    # Acme's admin cannot see or revoke Northwind's key.
    make_user(db, "acme", "ops@acme.test")
    with session_scope(db) as session:
        acme = get_organisation_by_slug(session, "acme")
        _, acme_key = create_api_key(session, organisation=acme, name="acme-books")
    other = TestClient(admin.client.app, base_url="https://politely.test")
    assert log_in(other, "ops@acme.test").status_code == 303
    acme_page = other.get("/admin/settings").text
    assert admin.api.key[:11] not in acme_page and "Settings for Acme" in acme_page
    token = re.search(r'name="csrf_token" value="([^"]+)"', acme_page)
    assert token is not None
    refused = other.post(f"/admin/settings/keys/{key_id}/revoke", data={"csrf_token": token[1]})
    assert refused.status_code == 404 and "no such API key" in refused.text
    assert admin.api.get("/organisation").status_code == 200
    revoked = admin.post(f"/admin/settings/keys/{key_id}/revoke", csrf_from="/admin/settings")
    assert revoked.status_code == 200 and "revoked: it no longer works" in revoked.text
    assert admin.api.get("/organisation").status_code == 401
    assert "revoked" in admin.get("/admin/settings").text
    acme_api = Api(client=admin.client, key=acme_key, slug="acme")
    assert acme_api.get("/organisation").json()["slug"] == "acme"
