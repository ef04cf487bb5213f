"""HTTP for payment webhooks in: Stripe and the generic Standard Webhooks form."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, BackgroundTasks, HTTPException, Request
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select
from starlette.concurrency import run_in_threadpool

from app.db import session_scope
from app.errors import NotFound
from app.organisations.models import Organisation
from app.organisations.service import get_organisation_by_slug
from app.runtime import Runtime
from app.webhooks import payment_events, stripe_events
from app.webhooks.models import WebhookReceipt
from app.webhooks.payment_events import Outcome, Received, handle_payment_event
from app.webhooks.signatures import SignatureError, verify_standard, verify_stripe
from app.webhooks.stripe_events import handle_stripe_event

router = APIRouter(prefix="/webhooks", tags=["webhooks in"])
MAX_BYTES = 1024 * 1024


class WebhookOut(BaseModel):
    result: Literal["applied", "duplicate", "unmatched", "ignored", "rejected"]
    event_id: str
    detail: str | None = None
    invoice: str | None = None


# Verifies the raw body and returns (event id, event type, what the handler receives).
Check = Callable[[Organisation, bytes], tuple[str, str, Any]]
Handler = Callable[[Session, Received, Any], Outcome]


@router.post("/{org}/stripe", response_model=WebhookOut)
async def stripe_webhook(org: str, request: Request, background: BackgroundTasks) -> WebhookOut:
    """Point a Stripe webhook endpoint here and paste its signing secret ("whsec_...") into
    `stripe_webhook_secret` with PATCH /api/v1/organisation. Handles invoice.paid,
    invoice.payment_succeeded, invoice.voided, invoice.marked_uncollectible,
    checkout.session.completed (and async_payment_succeeded) and charge.refunded; other
    events are answered "ignored". Our invoice is found by `metadata.politely_invoice`, else by
    the Stripe invoice id as our external id, else as our invoice number."""
    signature = request.headers.get("stripe-signature")

    def check(organisation: Organisation, body: bytes) -> tuple[str, str, Any]:
        secret = organisation.stripe_webhook_secret
        if not secret:
            raise HTTPException(
                400,
                "no Stripe signing secret is set: paste the endpoint's secret (whsec_...) "
                "into stripe_webhook_secret with PATCH /api/v1/organisation",
            )
        _verify(lambda: verify_stripe(body, signature, secret))
        event = _json(body)
        data = event.get("data") if isinstance(event, dict) else None
        obj = data.get("object") if isinstance(data, dict) else None
        event_id, kind = _id_and_type(event)
        if not isinstance(obj, dict):
            raise HTTPException(400, "not a Stripe event: data.object is missing")
        return event_id, kind, obj

    return await _receive(request, background, org, "stripe", check, handle_stripe_event)


@router.post("/{org}/payments", response_model=WebhookOut)
async def payments_webhook(org: str, request: Request, background: BackgroundTasks) -> WebhookOut:
    """The generic form for any invoicing system, signed as Standard Webhooks
    (https://www.standardwebhooks.com) with the organisation's `payments_webhook_secret`.
    Body `{type, data}`: `payment.received` with `{invoice, payment_id, amount, currency,
    paid_at}` (amount a decimal string), `invoice.voided` with `{invoice}`, `invoice.updated`
    with the fields of PUT /invoices/{external_id} plus `external_id`."""
    headers = request.headers

    def check(organisation: Organisation, body: bytes) -> tuple[str, str, Any]:
        secret = organisation.payments_webhook_secret
        if not secret:
            raise HTTPException(400, "this organisation has no payments webhook secret yet")
        msg_id = headers.get("webhook-id")
        _verify(
            lambda: verify_standard(
                secret,
                msg_id=msg_id,
                timestamp=headers.get("webhook-timestamp"),
                signature=headers.get("webhook-signature"),
                body=body,
            )
        )
        assert msg_id is not None
        if len(msg_id) > 255:
            raise HTTPException(400, "webhook-id is longer than 255 characters")
        payload = _json(body)
        kind = payload.get("type") if isinstance(payload, dict) else None
        return msg_id, kind if isinstance(kind, str) else "", payload

    return await _receive(request, background, org, "payments", check, handle_payment_event)


async def _receive(
    request: Request,
    background: BackgroundTasks,
    org: str,
    source: str,
    check: Check,
    handler: Handler,
) -> WebhookOut:
    body = await _read_body(request)
    runtime: Runtime = request.app.state.runtime
    answer, paid = await run_in_threadpool(_apply, runtime, org, source, body, check, handler)
    if paid:  # a thank-you may be queued; it leaves after this response, not inside it
        background.add_task(runtime.send_notices_blocking)
    return answer


async def _read_body(request: Request) -> bytes:
    """The raw bytes, as signed; refused past MAX_BYTES whatever Content-Length claims."""
    length = request.headers.get("content-length", "")
    if length.isdecimal() and int(length) > MAX_BYTES:
        raise HTTPException(413, "a webhook body may be at most 1 MB")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BYTES:
            raise HTTPException(413, "a webhook body may be at most 1 MB")
        chunks.append(chunk)
    return b"".join(chunks)


def _apply(
    runtime: Runtime, org: str, source: str, body: bytes, check: Check, handler: Handler
) -> tuple[WebhookOut, bool]:
    """Verify, then apply the event and store its receipt in one transaction."""
    with session_scope(runtime.engine) as session:
        try:
            organisation = get_organisation_by_slug(session, org)
        except NotFound:
            raise HTTPException(404, "not found") from None
        assert organisation.id is not None
        event_id, kind, payload = check(organisation, body)
        if _seen(session, organisation.id, source, event_id):
            return WebhookOut(result="duplicate", event_id=event_id), False
        now = runtime.clock.now()
        receipt = WebhookReceipt(
            organisation_id=organisation.id,
            source=source,
            event_id=event_id,
            event_type=kind[:100],
            result="pending",
            received_at=datetime.now(UTC),  # when it arrived, not the business (test) time
        )
        # Claimed first: a second copy arriving meanwhile waits here, then is a duplicate.
        # It is the transaction's first write, so rolling back on a clash loses nothing
        # (a savepoint would not do: pysqlite commits when the outermost one is released).
        session.add(receipt)
        try:
            session.flush()
        except IntegrityError:
            session.rollback()
            return WebhookOut(result="duplicate", event_id=event_id), False
        actor = stripe_events.ACTOR if source == "stripe" else payment_events.ACTOR
        event = Received(organisation.id, source, event_id, kind, now, actor)
        outcome = handler(session, event, payload)
        receipt.result, receipt.detail = outcome.result, (outcome.detail or "")[:2000] or None
        session.add(receipt)
        answer = WebhookOut(
            result=outcome.result,
            event_id=event_id,
            detail=outcome.detail,
            invoice=outcome.invoice,
        )
        return answer, outcome.paid


def _seen(session: Session, organisation_id: int, source: str, event_id: str) -> bool:
    statement = select(WebhookReceipt.id).where(
        WebhookReceipt.organisation_id == organisation_id,
        WebhookReceipt.source == source,
        WebhookReceipt.event_id == event_id,
    )
    return session.exec(statement).first() is not None


def _verify(verify: Callable[[], int]) -> None:
    try:
        verify()
    except SignatureError as error:
        raise HTTPException(400, f"signature refused: {error}") from None


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise HTTPException(400, "the body is not JSON") from None


def _id_and_type(event: Any) -> tuple[str, str]:
    event_id = event.get("id") if isinstance(event, dict) else None
    kind = event.get("type") if isinstance(event, dict) else None
    if not isinstance(event_id, str) or not event_id or len(event_id) > 255:
        raise HTTPException(400, "not a Stripe event: it has no id")
    if not isinstance(kind, str) or not kind:
        raise HTTPException(400, "not a Stripe event: it has no type")
    return event_id, kind
