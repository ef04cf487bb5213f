"""Outgoing webhook endpoints and their delivery log in the admin pages."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from app.admin.auth import Admin, AdminDep, read_form, runtime_of
from app.admin.pages import render
from app.db import session_scope
from app.errors import AppError, NotFound
from app.webhooks.endpoints import (
    attempts_of,
    create_endpoint,
    delete_endpoint,
    enable_endpoint,
    endpoint_status,
    get_delivery,
    get_endpoint,
    list_endpoints,
    recent_deliveries,
    redeliver,
)
from app.webhooks.models import WebhookEndpoint
from app.webhooks.outbound import ALL_EVENTS, KNOWN_KINDS

router = APIRouter(prefix="/admin/webhooks", include_in_schema=False)

SHOWN_DELIVERIES = 50


@router.get("", response_class=HTMLResponse)
def webhooks_page(request: Request, admin: AdminDep, endpoint: str = "") -> HTMLResponse:
    chosen = int(endpoint) if endpoint.isdigit() else None
    return _page(request, admin, endpoint_id=chosen)


def _page(
    request: Request,
    admin: Admin,
    *,
    endpoint_id: int | None = None,
    status: int = 200,
    **extra: Any,
) -> HTMLResponse:
    context: dict[str, Any] = {"error": "", "created": None, "values": {}, **extra}
    with session_scope(runtime_of(request).engine) as session:
        endpoints = list_endpoints(session, organisation_id=admin.organisation_id)
        by_id = {e.id: e for e in endpoints}
        if endpoint_id not in by_id:
            endpoint_id = None  # another organisation's, deleted, or never there: show all
        deliveries = recent_deliveries(
            session,
            organisation_id=admin.organisation_id,
            endpoint_id=endpoint_id,
            limit=SHOWN_DELIVERIES,
        )
        # Deliveries of deleted endpoints stay in the log; their URL comes from the row.
        urls = {e.id: e.url for e in endpoints}
        for delivery in deliveries:
            if delivery.endpoint_id not in urls:
                gone = session.get(WebhookEndpoint, delivery.endpoint_id)
                urls[delivery.endpoint_id] = gone.url if gone else ""
        logs = attempts_of(session, [d.id for d in deliveries if d.id is not None])
    return render(
        request,
        admin,
        "webhooks.html",
        status=status,
        endpoints=endpoints,
        status_of=endpoint_status,
        by_id=by_id,
        urls=urls,
        deliveries=deliveries,
        logs=logs,
        endpoint_id=endpoint_id,
        kinds=sorted(KNOWN_KINDS),
        all_events=ALL_EVENTS,
        **context,
    )


@router.post("", response_class=HTMLResponse)
async def add(request: Request, admin: AdminDep) -> Response:
    form = await request.form()
    fields = await read_form(request, admin)
    events = [value for value in form.getlist("events") if isinstance(value, str)]
    return await run_in_threadpool(_add, request, admin, fields.get("url", ""), events)


def _add(request: Request, admin: Admin, url: str, events: list[str]) -> Response:
    try:
        with session_scope(runtime_of(request).engine) as session:
            endpoint = create_endpoint(
                session,
                organisation_id=admin.organisation_id,
                url=url,
                events=events,
                allow_private=runtime_of(request).settings.allow_private_webhooks,
            )
    except AppError as error:
        return _page(
            request,
            admin,
            status=422,
            error="Nothing was added: " + error.message,
            values={"url": url, "events": events},
        )
    # Shown on this answer only: the secret is never put in a URL or shown again.
    return _page(request, admin, created=endpoint)


@router.post("/{endpoint_id}/delete", response_class=HTMLResponse)
async def delete(request: Request, admin: AdminDep, endpoint_id: int) -> Response:
    await read_form(request, admin)
    return await run_in_threadpool(_act, request, admin, endpoint_id, "delete", None)


@router.post("/{endpoint_id}/enable", response_class=HTMLResponse)
async def enable(request: Request, admin: AdminDep, endpoint_id: int) -> Response:
    await read_form(request, admin)
    return await run_in_threadpool(_act, request, admin, endpoint_id, "enable", None)


@router.post("/{endpoint_id}/deliveries/{delivery_id}/redeliver", response_class=HTMLResponse)
async def redeliver_one(
    request: Request, admin: AdminDep, endpoint_id: int, delivery_id: int
) -> Response:
    await read_form(request, admin)
    return await run_in_threadpool(_act, request, admin, endpoint_id, "redeliver", delivery_id)


def _act(
    request: Request, admin: Admin, endpoint_id: int, action: str, delivery_id: int | None
) -> Response:
    runtime = runtime_of(request)
    try:
        with session_scope(runtime.engine) as session:
            endpoint = get_endpoint(
                session, organisation_id=admin.organisation_id, endpoint_id=endpoint_id
            )
            if action == "delete":
                delete_endpoint(session, endpoint)
                done = f"Deleted the endpoint {endpoint.url}; nothing more is sent to it."
            elif action == "enable":
                actor = f"admin:{admin.user.email}"
                enable_endpoint(session, endpoint, now=runtime.clock.now(), actor=actor)
                done = f"Re-enabled {endpoint.url}; new events go to it again."
            else:
                assert delivery_id is not None
                delivery = get_delivery(session, endpoint=endpoint, delivery_id=delivery_id)
                redeliver(session, endpoint=endpoint, delivery=delivery)
                done = f"Delivery #{delivery_id} will be sent again within a few seconds."
    except NotFound:
        return _page(
            request, admin, status=404, error="There is no such endpoint or delivery here."
        )
    except AppError as error:
        return _page(
            request, admin, status=error.status_code, error="Nothing was changed: " + error.message
        )
    return RedirectResponse(f"/admin/webhooks?{urlencode({'done': done})}", status_code=303)
