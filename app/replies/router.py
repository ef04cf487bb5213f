"""HTTP for inbound email: raw MIME, Mailgun, SendGrid or Postmark, authenticated per
organisation by its API key, its inbound secret, or Mailgun's signature."""

from __future__ import annotations

import base64
import time
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from app.db import session_scope
from app.errors import NotFound
from app.organisations.models import Organisation
from app.organisations.service import (
    get_organisation_by_slug,
    inbound_secret_of,
    organisation_for_key,
)
from app.replies.inbound import (
    InboundEmail,
    InboundFormatError,
    parse_mailgun,
    parse_postmark,
    parse_raw_mime,
    parse_sendgrid,
    verify_mailgun_signature,
)
from app.replies.inbound_service import handle_inbound
from app.runtime import Runtime
from app.security import same_secret

router = APIRouter(prefix="/inbound", tags=["inbound email"])
MAX_BYTES = 10 * 1024 * 1024
PROVIDERS = ("mime", "mailgun", "sendgrid", "postmark")


class InboundOut(BaseModel):
    result: str
    kind: str
    matched_by: str | None
    customer: str | None
    invoice: str | None
    bounced: list[str]


@router.post("/{org}/email", response_model=InboundOut)
async def inbound_email(org: str, request: Request, provider: str | None = None) -> InboundOut:
    """Post a reply here: `message/rfc822` with the API key or the inbound secret, or a
    provider's webhook (`?provider=mailgun|sendgrid|postmark`, detected when left out).
    The inbound secret goes in `?secret=`, the `X-Politely-Inbound-Secret` header, or as the
    password of HTTP Basic auth (for providers that only take a URL)."""
    length = request.headers.get("content-length", "")
    if not length.isdecimal():
        raise HTTPException(411, "send a Content-Length")
    if int(length) > MAX_BYTES:
        raise HTTPException(413, "inbound email larger than 10 MB")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    is_form = content_type in ("multipart/form-data", "application/x-www-form-urlencoded")
    provider = provider or _detect(content_type)
    if (
        provider not in (*PROVIDERS, "form")
        or (provider == "postmark" and is_form)
        or (provider in ("mailgun", "sendgrid") and not is_form)
    ):
        raise HTTPException(
            422,
            f"provider must be one of {', '.join(PROVIDERS)}, with the body that provider sends",
        )
    runtime: Runtime = request.app.state.runtime
    # Who is calling is settled before the body is read: strangers cannot make us buffer it.
    trusted = await run_in_threadpool(_caller_is_trusted, runtime, org, request, is_form)
    payload: Any
    if is_form:
        form = await request.form(max_files=20, max_fields=100, max_part_size=MAX_BYTES)
        payload = {key: value for key, value in form.multi_items() if isinstance(value, str)}
    else:
        payload = await request.body()
    return await run_in_threadpool(_handle, runtime, org, provider, payload, trusted)


def _detect(content_type: str) -> str:
    if content_type == "application/json":
        return "postmark"
    if content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        return "form"  # told apart by its fields, below
    return "mime"


def _organisation(session: Any, slug: str) -> Organisation:
    try:
        return get_organisation_by_slug(session, slug)
    except NotFound:
        raise HTTPException(404, "not found") from None


def _caller_is_trusted(runtime: Runtime, org: str, request: Request, is_form: bool) -> bool:
    """True for the API key or the inbound secret; False when only a Mailgun signature in
    the form can tell; anything else is refused here."""
    with session_scope(runtime.engine) as session:
        organisation = _organisation(session, org)
        secret = inbound_secret_of(session, organisation)
        presented = [
            request.query_params.get("secret"),
            request.headers.get("x-politely-inbound-secret"),
            _basic_password(request),
        ]
        if any(same_secret(value, secret) for value in presented if value):
            return True
        authorization = request.headers.get("authorization", "")
        if authorization.lower().startswith("bearer "):
            key_org = organisation_for_key(session, authorization[7:].strip())
            if key_org is not None and key_org.id == organisation.id:
                return True
        if is_form and organisation.mailgun_signing_key:
            return False
    raise HTTPException(401, "send the API key, the inbound secret or a valid signature")


def _handle(runtime: Runtime, org: str, provider: str, payload: Any, trusted: bool) -> InboundOut:
    with session_scope(runtime.engine) as session:
        organisation = _organisation(session, org)
        if provider == "form":
            provider = "mailgun" if "signature" in payload and "token" in payload else "sendgrid"
        if not trusted and not _mailgun_signed(organisation, provider, payload):
            raise HTTPException(401, "send the API key, the inbound secret or a valid signature")
        try:
            email = _parse(provider, payload)
        except InboundFormatError as error:
            raise HTTPException(422, f"not a {provider} payload: {error}") from None
        assert organisation.id is not None
        evidence = (
            payload.decode("latin-1") if isinstance(payload, bytes) else "\n".join(payload.values())
        )
        result = handle_inbound(
            session,
            email,
            organisation_id=organisation.id,
            secret=runtime.settings.secret_key,
            now=runtime.clock.now(),
            evidence=evidence,
        )
        return InboundOut(
            result=result.result,
            kind=result.kind,
            matched_by=result.matched_by,
            customer=result.customer,
            invoice=result.invoice,
            bounced=list(result.bounced),
        )


def _mailgun_signed(organisation: Organisation, provider: str, payload: Any) -> bool:
    if provider != "mailgun" or not organisation.mailgun_signing_key:
        return False
    # Mailgun's own signature; its time window is checked against the real clock.
    return verify_mailgun_signature(
        signing_key=organisation.mailgun_signing_key,
        timestamp=str(payload.get("timestamp", "")),
        token=str(payload.get("token", "")),
        signature=str(payload.get("signature", "")),
        now=time.time(),
    )


def _parse(provider: str, payload: Any) -> InboundEmail:
    if provider == "mime":
        return parse_raw_mime(payload)
    if provider == "mailgun":
        return parse_mailgun(payload)
    if provider == "sendgrid":
        return parse_sendgrid(payload)
    import json

    try:
        document = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise InboundFormatError("the body is not JSON") from None
    return parse_postmark(document)


def _basic_password(request: Request) -> str | None:
    authorization = request.headers.get("authorization", "")
    if not authorization.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(authorization[6:].strip()).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    return decoded.partition(":")[2] or None
