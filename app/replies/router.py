"""HTTP for inbound email: raw MIME, Mailgun, SendGrid or Postmark, authenticated per
organisation by its API key, its inbound secret, or Mailgun's signature."""

from __future__ import annotations

import base64
import hmac
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
    if int(request.headers.get("content-length") or 0) > MAX_BYTES:
        raise HTTPException(413, "inbound email larger than 10 MB")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    provider = provider or _detect(content_type)
    if provider not in (*PROVIDERS, "form"):
        raise HTTPException(422, f"provider must be one of {', '.join(PROVIDERS)}")
    payload: Any
    if content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        form = await request.form(max_part_size=MAX_BYTES)
        payload = {key: value for key, value in form.multi_items() if isinstance(value, str)}
    else:
        payload = await request.body()
        if len(payload) > MAX_BYTES:
            raise HTTPException(413, "inbound email larger than 10 MB")
    runtime: Runtime = request.app.state.runtime
    return await run_in_threadpool(_handle, runtime, org, request, provider, payload)


def _detect(content_type: str) -> str:
    if content_type == "application/json":
        return "postmark"
    if content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        return "form"  # told apart by its fields, below
    return "mime"


def _handle(
    runtime: Runtime, org: str, request: Request, provider: str, payload: Any
) -> InboundOut:
    with session_scope(runtime.engine) as session:
        try:
            organisation = get_organisation_by_slug(session, org)
        except NotFound:
            raise HTTPException(404, "not found") from None
        if provider == "form":
            provider = "mailgun" if "signature" in payload and "token" in payload else "sendgrid"
        _authenticate(session, organisation, request, provider, payload)
        try:
            email = _parse(provider, payload)
        except InboundFormatError as error:
            raise HTTPException(422, f"not a {provider} payload: {error}") from None
        assert organisation.id is not None
        result = handle_inbound(
            session,
            email,
            organisation_id=organisation.id,
            secret=runtime.settings.secret_key,
            now=runtime.clock.now(),
        )
        return InboundOut(
            result=result.result,
            kind=result.kind,
            matched_by=result.matched_by,
            customer=result.customer,
            invoice=result.invoice,
            bounced=list(result.bounced),
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


def _authenticate(
    session: Any, organisation: Organisation, request: Request, provider: str, payload: Any
) -> None:
    secret = inbound_secret_of(session, organisation)
    presented = [
        request.query_params.get("secret"),
        request.headers.get("x-politely-inbound-secret"),
        _basic_password(request),
    ]
    if any(value and hmac.compare_digest(value, secret) for value in presented):
        return
    authorization = request.headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        key_org = organisation_for_key(session, authorization[7:].strip())
        if key_org is not None and key_org.id == organisation.id:
            return
    if provider == "mailgun" and organisation.mailgun_signing_key and isinstance(payload, dict):
        # Mailgun's own signature; its time window is checked against the real clock.
        if verify_mailgun_signature(
            signing_key=organisation.mailgun_signing_key,
            timestamp=str(payload.get("timestamp", "")),
            token=str(payload.get("token", "")),
            signature=str(payload.get("signature", "")),
            now=time.time(),
        ):
            return
    raise HTTPException(401, "send the API key, the inbound secret or a valid signature")


def _basic_password(request: Request) -> str | None:
    authorization = request.headers.get("authorization", "")
    if not authorization.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(authorization[6:].strip()).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    return decoded.partition(":")[2] or None
