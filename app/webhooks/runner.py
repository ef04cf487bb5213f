"""Delivering outgoing webhooks that are due, from the database.

A pass claims due deliveries in a short transaction (on PostgreSQL with FOR UPDATE SKIP
LOCKED) by pushing their next attempt a lease ahead, sends them with one shared httpx client,
then records each outcome in its own transaction. A crash mid-send only delays the delivery
until the lease ends; no transaction is held open while a receiver answers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from anyio import to_thread
from sqlalchemy import update
from sqlmodel import Session, col, select

from app import __version__
from app.db import is_postgres, session_scope
from app.runtime import Runtime
from app.webhooks.addresses import PrivateAddress, refuse_private
from app.webhooks.endpoints import DISABLED_ITEM, disabled_item_reason, stop_pending
from app.webhooks.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint
from app.webhooks.outbound import (
    DISABLE_AFTER,
    MAX_ATTEMPTS,
    jittered_delay,
    message_id,
    real_now,
)
from app.webhooks.signatures import sign_standard
from app.worklist.service import add_item

log = logging.getLogger("politely.webhooks")

BATCH = 50
CONCURRENCY = 10
LEASE = timedelta(minutes=2)  # well beyond the request timeout
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
EXCERPT = 500

# One client per event loop: `serve` and `worker` keep theirs (and its connections) for life.
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
    weakref.WeakKeyDictionary()
)


@dataclass(frozen=True)
class Claimed:
    delivery_id: int
    url: str
    secret: str
    msg_id: str
    body: bytes


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None
    excerpt: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def shared_client() -> httpx.AsyncClient:
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None or client.is_closed:
        client = httpx.AsyncClient(
            timeout=TIMEOUT,
            follow_redirects=False,  # a redirect is a failure: the endpoint URL is wrong
            headers={"user-agent": f"Politely-Webhooks/{__version__}"},
        )
        _clients[loop] = client
    return client


async def close_shared_client() -> None:
    """Close this loop's client (tests and shutdown; the next pass opens a new one)."""
    client = _clients.pop(asyncio.get_running_loop(), None)
    if client is not None:
        await client.aclose()


async def deliver_due_webhooks(runtime: Runtime) -> int:
    """Send what is due now; returns how many deliveries were attempted."""
    claimed = await to_thread.run_sync(claim_due, runtime)
    if not claimed:
        return 0
    client = shared_client()
    limit = asyncio.Semaphore(CONCURRENCY)
    allow_private = runtime.settings.allow_private_webhooks

    async def one(item: Claimed) -> None:
        async with limit:
            outcome = await send(client, item, allow_private=allow_private)
        try:
            await to_thread.run_sync(record_outcome, runtime, item.delivery_id, outcome)
        except Exception:
            # The lease runs out and it is tried again; the others carry on meanwhile.
            log.exception("could not record webhook delivery %s", item.delivery_id)

    await asyncio.gather(*(one(item) for item in claimed))
    return len(claimed)


def claim_due(runtime: Runtime) -> list[Claimed]:
    now = real_now()
    with session_scope(runtime.engine) as session:
        statement = (
            select(WebhookDelivery.id)
            .join(WebhookEndpoint, col(WebhookEndpoint.id) == col(WebhookDelivery.endpoint_id))
            .where(
                WebhookDelivery.status == "pending",
                col(WebhookDelivery.next_attempt_at) <= now,
                col(WebhookEndpoint.deleted_at).is_(None),
                col(WebhookEndpoint.disabled_at).is_(None),
            )
            .order_by(col(WebhookDelivery.next_attempt_at), col(WebhookDelivery.id))
            .limit(BATCH)
        )
        if is_postgres(session):
            statement = statement.with_for_update(skip_locked=True, of=WebhookDelivery)
        ids = [row for row in session.exec(statement).all() if row is not None]
        claimed = []
        for delivery_id in ids:
            # Compare-and-set: on SQLite (no row locks) the condition is what makes it ours.
            taken = session.execute(
                update(WebhookDelivery)
                .where(
                    col(WebhookDelivery.id) == delivery_id,
                    col(WebhookDelivery.status) == "pending",
                    col(WebhookDelivery.next_attempt_at) <= now,
                )
                .values(next_attempt_at=now + LEASE)
                .execution_options(synchronize_session=False)
            )
            if taken.rowcount == 1:  # type: ignore[attr-defined]
                claimed.append(_prepare(session, delivery_id))
        return claimed


def _prepare(session: Session, delivery_id: int) -> Claimed:
    delivery = session.get(WebhookDelivery, delivery_id)
    assert delivery is not None
    endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
    assert endpoint is not None
    return Claimed(
        delivery_id=delivery_id,
        url=endpoint.url,
        secret=endpoint.secret,
        msg_id=message_id(delivery),
        body=_body(delivery),
    )


def _body(delivery: WebhookDelivery) -> bytes:
    return json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode()


async def send(client: httpx.AsyncClient, item: Claimed, *, allow_private: bool = False) -> Outcome:
    if not allow_private:
        try:
            # Checked again at each send: the name may resolve elsewhere than at creation.
            await to_thread.run_sync(refuse_private, item.url)
        except PrivateAddress as internal:
            return Outcome(None, f"refused: {internal}", None)
    timestamp = int(time.time())  # real clock: receivers check it against theirs
    headers = {
        "content-type": "application/json",
        "webhook-id": item.msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign_standard(item.secret, item.msg_id, timestamp, item.body),
    }
    try:
        async with client.stream("POST", item.url, content=item.body, headers=headers) as answer:
            # Only the start of the answer is kept, so only that much is read.
            start = b""
            async for chunk in answer.aiter_bytes():
                start += chunk
                if len(start) >= EXCERPT * 4:
                    break
    except httpx.HTTPError as failure:
        reason = f"{type(failure).__name__}: {failure or 'no answer'}"
        return Outcome(None, reason[:2000], None)
    excerpt = start.decode(answer.encoding or "utf-8", "replace")[:EXCERPT] or None
    refused = None if 200 <= answer.status_code < 300 else f"HTTP {answer.status_code}"
    return Outcome(answer.status_code, refused, excerpt)


def record_outcome(runtime: Runtime, delivery_id: int, outcome: Outcome) -> None:
    now = real_now()
    with session_scope(runtime.engine) as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        if delivery is None:
            return
        # Locked on PostgreSQL: outcomes for one endpoint are recorded one at a time. NO KEY
        # UPDATE, so events queued for it meanwhile (a KEY SHARE on the row) never wait.
        endpoint = session.get(
            WebhookEndpoint, delivery.endpoint_id, with_for_update={"key_share": True}
        )
        assert endpoint is not None
        session.add(
            DeliveryAttempt(
                delivery_id=delivery_id,
                attempted_at=now,
                status_code=outcome.status_code,
                error=outcome.error,
                response_excerpt=outcome.excerpt,
            )
        )
        delivery.attempts += 1
        delivery.last_status_code, delivery.last_error = outcome.status_code, outcome.error
        if outcome.ok:
            delivery.status, delivery.delivered_at, delivery.next_attempt_at = (
                "delivered",
                now,
                None,
            )
            endpoint.failing_since = None
        else:
            if delivery.status == "pending":  # not cancelled meanwhile by a delete
                if delivery.attempts >= MAX_ATTEMPTS:
                    delivery.status, delivery.next_attempt_at = "failed", None
                else:
                    delivery.next_attempt_at = now + jittered_delay(delivery.attempts)
            endpoint.failing_since = endpoint.failing_since or now
        session.add_all([delivery, endpoint])
        session.flush()
        if endpoint.disabled_at is None and endpoint.deleted_at is None:
            if endpoint.failing_since and now - endpoint.failing_since >= DISABLE_AFTER:
                _disable(session, runtime, endpoint, outcome, now)


def _disable(
    session: Session, runtime: Runtime, endpoint: WebhookEndpoint, last: Outcome, now: datetime
) -> None:
    """Stop sending to an endpoint that has failed for days, and tell a person."""
    assert endpoint.failing_since is not None
    since = endpoint.failing_since.strftime("%Y-%m-%d %H:%M UTC")
    reason = f"no successful delivery since {since}; last: {last.error or 'no answer'}"[:500]
    # Compare-and-set, so two outcomes recorded at once flag the endpoint only once.
    taken = session.execute(
        update(WebhookEndpoint)
        .where(col(WebhookEndpoint.id) == endpoint.id, col(WebhookEndpoint.disabled_at).is_(None))
        .values(disabled_at=now, disabled_reason=reason)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        return
    stop_pending(session, endpoint, status="failed", reason="the endpoint was disabled")
    add_item(
        session,
        organisation_id=endpoint.organisation_id,
        kind=DISABLED_ITEM,
        reason=(disabled_item_reason(endpoint) + reason)[:2000],
        at=runtime.clock.now(),
    )
    log.warning("disabled webhook endpoint %s: %s", endpoint.id, reason)
