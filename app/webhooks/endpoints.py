"""Managing an organisation's webhook endpoints and their deliveries (API and admin share it)."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import update
from sqlmodel import Session, col, select

from app.errors import Conflict, NotFound, Unprocessable
from app.organisations.service import new_webhook_secret
from app.webhooks.addresses import PrivateAddress, refuse_private
from app.webhooks.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint
from app.webhooks.outbound import ALL_EVENTS, KNOWN_KINDS, real_now
from app.worklist.models import WorklistItem
from app.worklist.service import resolve_item

DISABLED_ITEM = "webhook_disabled"


def clean_url(raw: str) -> str:
    url = raw.strip()
    if not url:
        raise Unprocessable("give the URL events should be sent to", field="url")
    if len(url) > 2000:
        raise Unprocessable("the URL is longer than 2000 characters", field="url")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as error:
        raise Unprocessable(f"not a valid URL: {error}", field="url") from error
    if parts.scheme not in ("http", "https"):
        raise Unprocessable("the URL must start with https:// or http://", field="url")
    if not parts.hostname:
        raise Unprocessable("the URL has no host name", field="url")
    if parts.username is not None or parts.password is not None:
        # They would sit in the database and the logs in clear; the signature authenticates us.
        raise Unprocessable("the URL must not contain a user name or password", field="url")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise Unprocessable("the URL contains spaces or control characters", field="url")
    return url


def clean_events(events: list[str]) -> list[str]:
    chosen: list[str] = []
    for kind in events:
        kind = kind.strip()
        if kind != ALL_EVENTS and kind not in KNOWN_KINDS:
            known = ", ".join(sorted(KNOWN_KINDS))
            raise Unprocessable(
                f"unknown event kind {kind[:64]!r}; known: * or {known}", field="events"
            )
        if kind not in chosen:
            chosen.append(kind)
    if not chosen:
        raise Unprocessable('choose at least one event kind, or ["*"] for all', field="events")
    return [ALL_EVENTS] if ALL_EVENTS in chosen else chosen


def create_endpoint(
    session: Session,
    *,
    organisation_id: int,
    url: str,
    events: list[str],
    allow_private: bool = False,
) -> WebhookEndpoint:
    url = clean_url(url)
    if not allow_private:
        try:
            refuse_private(url)
        except PrivateAddress as error:
            raise Unprocessable(
                f"events cannot be sent inside this network: {error}", field="url"
            ) from None
    endpoint = WebhookEndpoint(
        organisation_id=organisation_id,
        url=url,
        events=clean_events(events),
        secret=new_webhook_secret(),
        created_at=real_now(),
    )
    session.add(endpoint)
    session.flush()
    return endpoint


def list_endpoints(session: Session, *, organisation_id: int) -> list[WebhookEndpoint]:
    statement = (
        select(WebhookEndpoint)
        .where(
            WebhookEndpoint.organisation_id == organisation_id,
            col(WebhookEndpoint.deleted_at).is_(None),
        )
        .order_by(col(WebhookEndpoint.id))
    )
    return list(session.exec(statement).all())


def get_endpoint(session: Session, *, organisation_id: int, endpoint_id: int) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if (
        endpoint is None
        or endpoint.organisation_id != organisation_id
        or endpoint.deleted_at is not None
    ):
        raise NotFound("no such webhook endpoint")
    return endpoint


def endpoint_status(endpoint: WebhookEndpoint) -> str:
    if endpoint.disabled_at is not None:
        return "disabled"
    return "failing" if endpoint.failing_since is not None else "active"


def stop_pending(session: Session, endpoint: WebhookEndpoint, *, status: str, reason: str) -> None:
    """End the endpoint's queued deliveries (it was deleted or disabled)."""
    session.execute(
        update(WebhookDelivery)
        .where(
            col(WebhookDelivery.endpoint_id) == endpoint.id,
            col(WebhookDelivery.status) == "pending",
        )
        .values(status=status, next_attempt_at=None, last_error=reason)
    )


def delete_endpoint(session: Session, endpoint: WebhookEndpoint) -> None:
    endpoint.deleted_at = real_now()
    session.add(endpoint)
    stop_pending(session, endpoint, status="cancelled", reason="the endpoint was deleted")
    session.flush()


def disabled_item_reason(endpoint: WebhookEndpoint) -> str:
    # The prefix names the endpoint, so re-enabling it closes its item.
    return f"Webhook endpoint #{endpoint.id} ({endpoint.url[:200]}) was disabled: "


def enable_endpoint(
    session: Session, endpoint: WebhookEndpoint, *, now: datetime, actor: str
) -> None:
    """Turn a disabled endpoint back on; new events go to it again and its item is closed."""
    if endpoint.disabled_at is None:
        raise Conflict("this endpoint is not disabled", field="endpoint")
    endpoint.disabled_at = endpoint.disabled_reason = endpoint.failing_since = None
    session.add(endpoint)
    statement = select(WorklistItem).where(
        WorklistItem.organisation_id == endpoint.organisation_id,
        WorklistItem.kind == DISABLED_ITEM,
        col(WorklistItem.resolved_at).is_(None),
        col(WorklistItem.reason).startswith(disabled_item_reason(endpoint), autoescape=True),
    )
    for item in session.exec(statement).all():
        resolve_item(
            session, item=item, resolution="The endpoint was re-enabled.", now=now, actor=actor
        )
    session.flush()


def get_delivery(
    session: Session, *, endpoint: WebhookEndpoint, delivery_id: int
) -> WebhookDelivery:
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.endpoint_id != endpoint.id:
        raise NotFound("no such delivery for this endpoint")
    return delivery


def redeliver(session: Session, *, endpoint: WebhookEndpoint, delivery: WebhookDelivery) -> None:
    """Send it again now, with a fresh round of retries; the receiver sees the same webhook-id."""
    if endpoint.disabled_at is not None:
        raise Conflict("the endpoint is disabled; re-enable it first", field="endpoint")
    delivery.status, delivery.attempts = "pending", 0
    delivery.next_attempt_at = real_now()
    session.add(delivery)
    session.flush()


def recent_deliveries(
    session: Session, *, organisation_id: int, endpoint_id: int | None = None, limit: int = 50
) -> list[WebhookDelivery]:
    statement = select(WebhookDelivery).where(WebhookDelivery.organisation_id == organisation_id)
    if endpoint_id is not None:
        statement = statement.where(WebhookDelivery.endpoint_id == endpoint_id)
    statement = statement.order_by(col(WebhookDelivery.id).desc()).limit(limit)
    return list(session.exec(statement).all())


def attempts_of(session: Session, delivery_ids: list[int]) -> dict[int, list[DeliveryAttempt]]:
    """The log of each delivery, newest attempt first."""
    if not delivery_ids:
        return {}
    statement = (
        select(DeliveryAttempt)
        .where(col(DeliveryAttempt.delivery_id).in_(delivery_ids))
        .order_by(col(DeliveryAttempt.id).desc())
    )
    found: dict[int, list[DeliveryAttempt]] = {i: [] for i in delivery_ids}
    for attempt in session.exec(statement).all():
        found[attempt.delivery_id].append(attempt)
    return found
