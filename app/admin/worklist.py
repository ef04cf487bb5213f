"""The worklist: everything that needs a person, most urgent first."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from app.admin.auth import Admin, AdminDep, read_form, runtime_of
from app.admin.invoice_actions import settle_dispute
from app.admin.invoices import organisation_today
from app.admin.pages import render
from app.db import session_scope
from app.errors import AppError, NotFound, Unprocessable
from app.invoices.models import Invoice
from app.portal.forms import Form, FormErrors
from app.users.models import User
from app.worklist.models import WorklistItem
from app.worklist.service import (
    assign_item,
    get_item,
    open_kinds,
    ranked_open_items,
    resolve_item,
)

router = APIRouter(prefix="/admin/worklist", include_in_schema=False)

PAGE_SIZE = 50
WHO = {"all": "Everyone's", "mine": "Assigned to me", "unassigned": "Unassigned"}


@router.get("", response_class=HTMLResponse)
def worklist(
    request: Request, admin: AdminDep, who: str = "all", kind: str = "", page: str = "1"
) -> HTMLResponse:
    return _worklist_page(request, admin, who=who, kind=kind, page=page)


def _worklist_page(
    request: Request,
    admin: Admin,
    *,
    who: str,
    kind: str,
    page: str = "1",
    status: int = 200,
    **extra: Any,
) -> HTMLResponse:
    runtime = runtime_of(request)
    today = organisation_today(admin, runtime.clock.now())
    number = int(page) if page.isdigit() and int(page) > 0 else 1
    context: dict[str, Any] = {"error": "", "failed_item": None, "values": {}, **extra}
    if who not in WHO:
        who, status = "all", 422
        context["error"] = "Unknown filter: choose everyone's, mine or unassigned."
    with session_scope(runtime.engine) as session:
        rows = ranked_open_items(
            session,
            organisation_id=admin.organisation_id,
            today=today,
            assigned_to=admin.user.id if who == "mine" else None,
            unassigned=who == "unassigned",
            kind=kind or None,
        )
        kinds = open_kinds(session, organisation_id=admin.organisation_id)
        users = session.exec(
            select(User)
            .where(User.organisation_id == admin.organisation_id)
            .order_by(col(User.email))
        ).all()
    pages = max((len(rows) + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    query = {key: value for key, value in (("who", who), ("kind", kind)) if value}
    return render(
        request,
        admin,
        "worklist.html",
        status=status,
        rows=rows[(number - 1) * PAGE_SIZE : number * PAGE_SIZE],
        total=len(rows),
        page=number,
        pages=pages,
        query=lambda page_number: urlencode({**query, "page": page_number}),
        who=who,
        who_options=WHO,
        kind=kind,
        kinds=sorted(set(kinds) | ({kind} if kind else set())),
        users=users,
        today=today,
        **context,
    )


@router.post("/{item_id}/assign", response_class=HTMLResponse)
async def assign(request: Request, admin: AdminDep, item_id: int) -> Response:
    fields = await read_form(request, admin)
    return await run_in_threadpool(_act, request, admin, item_id, "assign", fields)


@router.post("/{item_id}/resolve", response_class=HTMLResponse)
async def resolve(request: Request, admin: AdminDep, item_id: int) -> Response:
    fields = await read_form(request, admin)
    return await run_in_threadpool(_act, request, admin, item_id, "resolve", fields)


def _act(
    request: Request, admin: Admin, item_id: int, action: str, fields: dict[str, str]
) -> Response:
    runtime = runtime_of(request)
    who = fields.get("who", "all") if fields.get("who") in WHO else "all"
    kind = fields.get("kind", "")[:32]
    try:
        with session_scope(runtime.engine) as session:
            item = get_item(session, organisation_id=admin.organisation_id, item_id=item_id)
            form = Form(fields)
            if action == "assign":
                chosen = fields.get("user", "")
                if chosen and not chosen.isdigit():
                    raise Unprocessable("choose one of your organisation's users", field="user")
                user = assign_item(
                    session,
                    item=item,
                    user_id=int(chosen) if chosen else None,
                    organisation_id=admin.organisation_id,
                )
                done = f"Assigned to {user.email}." if user else "Unassigned."
            else:
                resolution = form.text("resolution", max_length=2000)
                form.check()
                done = _resolve(session, item, resolution, runtime.clock.now(), admin)
    except NotFound:
        return render(request, admin, "worklist_not_found.html", status=404)
    except (FormErrors, AppError) as error:
        # Rolled back: nothing changed. The list comes back with the reason beside the item.
        reasons = error.errors.values() if isinstance(error, FormErrors) else [error.message]
        return _worklist_page(
            request,
            admin,
            who=who,
            kind=kind,
            status=422,
            error="Nothing was changed: " + " ".join(reasons),
            failed_item=item_id,
            values={k: v for k, v in fields.items() if k != "csrf_token"},
        )
    query = {key: value for key, value in (("who", who), ("kind", kind)) if value}
    return RedirectResponse(
        f"/admin/worklist?{urlencode({**query, 'done': done})}", status_code=303
    )


def _resolve(
    session: Session, item: WorklistItem, resolution: str, now: datetime, admin: Admin
) -> str:
    actor = f"admin:{admin.user.email}"
    if item.resolved_at is None and item.kind == "dispute" and item.invoice_id is not None:
        # Settling the dispute itself, or the invoice would stay on hold with nobody told.
        invoice = session.get(Invoice, item.invoice_id)
        if invoice is not None and invoice.organisation_id == admin.organisation_id:
            done = settle_dispute(session, invoice, resolution=resolution, now=now, actor=actor)
            if done is not None and item.resolved_at is not None:
                return done
    resolve_item(session, item=item, resolution=resolution, now=now, actor=actor)
    return "Item resolved."
