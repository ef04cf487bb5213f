"""Organisation settings and API keys in the admin pages."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from app.admin.auth import Admin, AdminDep, read_form, runtime_of
from app.admin.pages import render
from app.db import session_scope
from app.errors import NotFound
from app.organisations.models import Organisation
from app.organisations.schemas import ROTATABLE, WRITE_ONLY, OrganisationPatch
from app.organisations.service import (
    create_api_key,
    list_api_keys,
    organisation_out,
    revoke_api_key_by_id,
    update_organisation,
)

router = APIRouter(prefix="/admin/settings", include_in_schema=False)

# The form's text fields, in OrganisationPatch's names; blank means "none".
TEXT_FIELDS = (
    "name",
    "from_name",
    "from_address",
    "reply_to",
    "inbound_domain",
    "brand_colour",
    "logo_url",
    "default_locale",
    "default_timezone",
    "default_currency",
    "default_country",
    "payment_instructions",
)
REQUIRED = ("name", "brand_colour", "default_locale", "default_timezone", "default_currency")
SECRET_NAMES = {
    "payments_webhook_secret": "payments webhook secret",
    "inbound_secret": "inbound email secret",
}


@router.get("", response_class=HTMLResponse)
def settings_page(request: Request, admin: AdminDep) -> HTMLResponse:
    return _page(request, admin)


def _page(
    request: Request,
    admin: Admin,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    new_key: str = "",
) -> HTMLResponse:
    runtime = runtime_of(request)
    with session_scope(runtime.engine) as session:
        organisation = session.get(Organisation, admin.organisation_id)
        assert organisation is not None
        shown = organisation_out(session, organisation)
        keys = list_api_keys(session, organisation_id=admin.organisation_id)
    current = {name: getattr(shown, name) or "" for name in TEXT_FIELDS}
    base = f"{runtime.settings.base_url}/api/v1"
    return render(
        request,
        admin,
        "settings.html",
        status=status,
        organisation=shown,
        values={**current, **(values or {})},
        thank_you=(values or {}).get("thank_you_email", "on" if shown.thank_you_email else "")
        == "on",
        errors=errors or {},
        keys=keys,
        new_key=new_key,
        urls={
            "stripe": f"{base}/webhooks/{shown.slug}/stripe",
            "payments": f"{base}/webhooks/{shown.slug}/payments",
            "inbound": f"{base}/inbound/{shown.slug}/email",
        },
    )


def patch_from_form(fields: dict[str, str]) -> dict[str, Any]:
    """The form as a PATCH body: every field is sent, so the same rules apply as the API's.
    A blank secret keeps the stored one; its "remove" box clears it."""
    body: dict[str, Any] = {}
    for name in TEXT_FIELDS:
        value = fields.get(name, "").strip()
        # A blank required field is refused with its reason rather than cleared.
        body[name] = value if value or name in REQUIRED else None
    body["thank_you_email"] = fields.get("thank_you_email") == "on"
    for name in WRITE_ONLY:
        if fields.get(f"clear_{name}") == "on":
            body[name] = None
        elif fields.get(name, "").strip():
            body[name] = fields[name]
    return body


def _reasons(error: ValidationError) -> dict[str, str]:
    reasons: dict[str, str] = {}
    for item in error.errors():
        name = str(item["loc"][0]) if item["loc"] else "form"
        message = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "string_too_short":
            message = "Please fill this in."
        elif item["type"] == "string_too_long":
            message = f"Please keep this under {item.get('ctx', {}).get('max_length')} characters."
        reasons.setdefault(name, message)
    return reasons


@router.post("", response_class=HTMLResponse)
async def save_settings(request: Request, admin: AdminDep) -> Response:
    fields = await read_form(request, admin)
    return await run_in_threadpool(_save, request, admin, fields)


def _save(request: Request, admin: Admin, fields: dict[str, str]) -> Response:
    try:
        patch = OrganisationPatch.model_validate(patch_from_form(fields))
    except ValidationError as error:
        kept = {name: fields.get(name, "") for name in (*TEXT_FIELDS, "thank_you_email")}
        return _page(request, admin, status=422, errors=_reasons(error), values=kept)
    runtime = runtime_of(request)
    with session_scope(runtime.engine) as session:
        organisation = session.get(Organisation, admin.organisation_id)
        assert organisation is not None
        changed = update_organisation(
            session,
            organisation,
            patch,
            now=runtime.clock.now(),
            actor=f"admin:{admin.user.email}",
        )
    done = "Settings saved." if changed else "Nothing to change."
    return RedirectResponse(f"/admin/settings?{urlencode({'done': done})}", status_code=303)


@router.post("/rotate", response_class=HTMLResponse)
async def rotate_secret(request: Request, admin: AdminDep) -> Response:
    fields = await read_form(request, admin)
    return await run_in_threadpool(_rotate, request, admin, fields.get("secret", ""))


def _rotate(request: Request, admin: Admin, secret: str) -> Response:
    if secret not in ROTATABLE:
        return _page(request, admin, status=422, errors={"rotate": "Choose a secret to rotate."})
    runtime = runtime_of(request)
    with session_scope(runtime.engine) as session:
        organisation = session.get(Organisation, admin.organisation_id)
        assert organisation is not None
        update_organisation(
            session,
            organisation,
            OrganisationPatch.model_validate({"rotate": [secret]}),
            now=runtime.clock.now(),
            actor=f"admin:{admin.user.email}",
        )
    done = f"New {SECRET_NAMES[secret]} generated: update it where it is configured."
    return RedirectResponse(f"/admin/settings?{urlencode({'done': done})}", status_code=303)


@router.post("/keys", response_class=HTMLResponse)
async def create_key(request: Request, admin: AdminDep) -> Response:
    fields = await read_form(request, admin)
    return await run_in_threadpool(_create_key, request, admin, fields.get("key_name", ""))


def _create_key(request: Request, admin: Admin, name: str) -> Response:
    name = name.strip()
    if not name or len(name) > 200 or not name.isprintable():
        errors = {"key_name": "Name the key (one line, up to 200 characters), e.g. “invoicing”."}
        return _page(request, admin, status=422, errors=errors, values={"key_name": name[:200]})
    with session_scope(runtime_of(request).engine) as session:
        organisation = session.get(Organisation, admin.organisation_id)
        assert organisation is not None
        _, key = create_api_key(session, organisation=organisation, name=name)
    # Shown on this page only, never in a URL or stored: the answer is not cached either.
    return _page(request, admin, status=201, new_key=key)


@router.post("/keys/{key_id}/revoke", response_class=HTMLResponse)
async def revoke_key(request: Request, admin: AdminDep, key_id: int) -> Response:
    await read_form(request, admin)
    return await run_in_threadpool(_revoke, request, admin, key_id)


def _revoke(request: Request, admin: Admin, key_id: int) -> Response:
    try:
        with session_scope(runtime_of(request).engine) as session:
            key = revoke_api_key_by_id(
                session, organisation_id=admin.organisation_id, key_id=key_id
            )
            done = f"API key {key.prefix}… ({key.name}) revoked: it no longer works."
    except NotFound:
        return _page(request, admin, status=404, errors={"keys": "There is no such API key here."})
    return RedirectResponse(f"/admin/settings?{urlencode({'done': done})}", status_code=303)
