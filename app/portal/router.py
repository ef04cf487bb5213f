"""HTTP for the customer portal under /p/{token}. Pages only; the rules live in the services."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select
from starlette.concurrency import run_in_threadpool

from app.customers.optout import opt_out
from app.db import session_scope
from app.disputes.models import DISPUTE_REASONS
from app.disputes.service import open_dispute
from app.dunning.messages import LinkMaker
from app.errors import AppError
from app.invoices.models import Invoice
from app.payments.claims import claim_payment
from app.portal import csrf
from app.portal.access import LinkRefused, PortalAccess, open_link
from app.portal.forms import Form, FormErrors
from app.portal.models import FormSubmission
from app.portal.pages import render
from app.portal.ratings import record_rating
from app.promises.plans import FREQUENCIES, create_plan, propose_plan
from app.promises.service import break_passed_promise, create_promise
from app.replies.service import record_reply
from app.runtime import Runtime
from app.timeline.service import record_invoice_event

router = APIRouter(prefix="/p", include_in_schema=False)


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _refused(request: Request, error: LinkRefused) -> HTMLResponse:
    runtime = _runtime(request)
    return render(
        request,
        runtime.settings,
        "invalid.html",
        status=410 if error.expired else 404,
        expired=error.expired,
    )


def _locale(access: PortalAccess) -> str:
    return access.customer.locale or access.organisation.default_locale or "en"


def portal_page(
    request: Request,
    session: Session,
    access: PortalAccess,
    token: str,
    *,
    focus: Invoice | None = None,
    status: int = 200,
    errors: dict[str, dict[str, str]] | None = None,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    from app.dunning.plans import InvoicePlan

    runtime = _runtime(request)
    invoices = access.open_invoices(session)
    if focus is None or focus.status != "open":
        focus = next(
            (i for i in invoices if access.invoice and i.id == access.invoice.id),
            invoices[0] if invoices else None,
        )
    policy = plan = None
    pay_url = ""
    if focus is not None:
        plan = InvoicePlan(session, focus)
        policy = plan.policy
        links = LinkMaker(runtime.settings, access.organisation, access.customer)
        pay_url = links.url("pay", focus.id, "/pay")
    now = runtime.clock.now()
    return render(
        request,
        runtime.settings,
        "portal.html",
        status=status,
        link_token=token,
        locale=_locale(access),
        organisation=access.organisation,
        customer=access.customer,
        invoices=invoices,
        focus=focus,
        policy=policy,
        token=token,
        today=plan.calendar.local_date(now) if plan else now.date(),
        frequencies=FREQUENCIES,
        errors=errors or {},
        values=values or {},
        pay_url=pay_url,
        brand_colour=access.organisation.brand_colour,
    )


@router.get("/{token}", response_class=HTMLResponse)
def portal(request: Request, token: str, invoice: str | None = None) -> Response:
    runtime = _runtime(request)
    with session_scope(runtime.engine) as session:
        try:
            access = open_link(session, runtime.settings.secret_key, token, purpose="portal")
            focus = access.invoice_by_external_id(session, invoice) if invoice else None
        except LinkRefused as error:
            return _refused(request, error)
        if invoice is None and access.invoice is not None:
            record_invoice_event(
                session,
                access.invoice,
                "link.clicked",
                at=runtime.clock.now(),
                actor="customer",
                data={"link": "portal"},
            )
        return portal_page(request, session, access, token, focus=focus)


@router.get("/{token}/pay")
def pay(request: Request, token: str) -> Response:
    runtime = _runtime(request)
    with session_scope(runtime.engine) as session:
        try:
            access = open_link(session, runtime.settings.secret_key, token, purpose="pay")
            invoice = access.invoice_by_external_id(session, None)
        except LinkRefused as error:
            return _refused(request, error)
        record_invoice_event(
            session,
            invoice,
            "link.clicked",
            at=runtime.clock.now(),
            actor="customer",
            data={"link": "pay"},
        )
        if invoice.payment_url and invoice.status == "open":
            return RedirectResponse(invoice.payment_url, status_code=303)
        return render(
            request,
            runtime.settings,
            "pay.html",
            locale=_locale(access),
            organisation=access.organisation,
            invoice=invoice,
            brand_colour=access.organisation.brand_colour,
        )


# --- actions --------------------------------------------------------------------------------

Action = Callable[[Session, PortalAccess, Invoice, Form], dict[str, Any]]
# Settles what is already true before the action, in its own transaction: kept even when
# the action is then refused.
Settle = Callable[[Session, Invoice], Any]


async def _act(
    request: Request,
    token: str,
    action_name: str,
    action: Action,
    background: BackgroundTasks,
    *,
    consumes_form: bool = True,
    settle: Settle | None = None,
) -> Response:
    data = dict(await request.form())
    runtime = _runtime(request)
    return await run_in_threadpool(
        _act_sync,
        request,
        runtime,
        token,
        action_name,
        action,
        data,
        background,
        consumes_form,
        settle,
    )


def _act_sync(
    request: Request,
    runtime: Runtime,
    token: str,
    action_name: str,
    action: Action,
    data: dict[str, Any],
    background: BackgroundTasks,
    consumes_form: bool,
    settle: Settle | None = None,
) -> Response:
    values = {k: v for k, v in data.items() if isinstance(v, str) and k != csrf.FIELD}
    with session_scope(runtime.engine) as session:
        try:
            access = open_link(session, runtime.settings.secret_key, token, purpose="portal")
            invoice = access.invoice_by_external_id(session, values.get("invoice"))
        except LinkRefused as error:
            return _refused(request, error)
        if not csrf.is_valid(runtime.settings.secret_key, request, data.get(csrf.FIELD), token):
            return render(
                request,
                runtime.settings,
                "expired_form.html",
                status=403,
                link_token=token,
                token=token,
            )
        if settle is not None:
            settle(session, invoice)
    try:
        with session_scope(runtime.engine) as session:
            access = open_link(session, runtime.settings.secret_key, token, purpose="portal")
            invoice = access.invoice_by_external_id(session, values.get("invoice"))
            form = Form(data, _locale(access))
            outcome: dict[str, Any]
            if consumes_form and not first_submission(session, data):
                outcome = {"template": "done.html", "duplicate": True}
            else:
                outcome = action(session, access, invoice, form)
    except IntegrityError:
        outcome = {"template": "done.html", "duplicate": True}  # the same form, twice at once
    except (FormErrors, AppError) as error:
        # Nothing was stored (the transaction rolled back); show the form again with reasons.
        if isinstance(error, FormErrors):
            errors = error.errors
        else:
            errors = {error.field or "form": error.message}
        with session_scope(runtime.engine) as session:
            access = open_link(session, runtime.settings.secret_key, token, purpose="portal")
            invoice = access.invoice_by_external_id(session, values.get("invoice"))
            return portal_page(
                request,
                session,
                access,
                token,
                focus=invoice,
                status=422,
                errors={action_name: errors},
                values=values,
            )
    if outcome.get("template") is None:
        background.add_task(runtime.send_notices_blocking)
    with session_scope(runtime.engine) as session:
        access = open_link(session, runtime.settings.secret_key, token, purpose="portal")
        invoice = access.invoice_by_external_id(session, values.get("invoice"))
        return render(
            request,
            runtime.settings,
            outcome.get("template") or "done.html",
            link_token=token,
            token=token,
            locale=_locale(access),
            organisation=access.organisation,
            customer=access.customer,
            invoice=invoice,
            action="duplicate" if outcome.get("duplicate") else action_name,
            brand_colour=access.organisation.brand_colour,
            **{k: v for k, v in outcome.items() if k not in ("template", "duplicate")},
        )


def first_submission(session: Session, data: dict[str, Any]) -> bool:
    """Record the form's one-time token; False when this form was already acted on."""
    nonce = data.get("nonce")
    if not isinstance(nonce, str) or not 8 <= len(nonce) <= 64:
        return True  # an old page without a token: accepted, as before
    if session.exec(select(FormSubmission.id).where(FormSubmission.nonce == nonce)).first():
        return False
    session.add(FormSubmission(nonce=nonce, created_at=datetime.now(UTC)))
    session.flush()  # two posts at once: the second fails on the unique key and rolls back
    return True


def _now(request: Request) -> Any:
    return _runtime(request).clock.now()


@router.post("/{token}/paid")
async def paid(request: Request, token: str, background: BackgroundTasks) -> Response:
    def action(session: Session, access: PortalAccess, invoice: Invoice, form: Form) -> dict:
        paid_on = form.day("paid_on")
        amount = form.amount("amount", invoice.currency)
        reference = form.text("reference", required=False, max_length=200)
        form.check()
        assert paid_on is not None and amount is not None
        claim_payment(
            session,
            invoice=invoice,
            paid_on=paid_on,
            amount_minor=amount,
            reference=reference,
            now=_now(request),
            actor="customer",
        )
        return {"paid_on": paid_on}

    return await _act(request, token, "paid", action, background)


@router.post("/{token}/promise")
async def promise(request: Request, token: str, background: BackgroundTasks) -> Response:
    def action(session: Session, access: PortalAccess, invoice: Invoice, form: Form) -> dict:
        promised_on = form.day("promised_on")
        amount = form.amount("amount", invoice.currency, required=False)
        form.check()
        assert promised_on is not None
        made = create_promise(
            session,
            invoice=invoice,
            promised_on=promised_on,
            amount_minor=amount,
            now=_now(request),
            actor="customer",
        )
        return {"promised_on": made.promised_on, "amount_minor": made.amount_minor}

    def settle(session: Session, invoice: Invoice) -> None:
        # A promise whose day has passed stays broken even if the new one is refused.
        break_passed_promise(session, invoice, now=_now(request))

    return await _act(request, token, "promise", action, background, settle=settle)


def _plan_fields(
    form: Form, access: PortalAccess, invoice: Invoice, session: Session
) -> tuple[int, str, Any]:
    from app.dunning.plans import InvoicePlan

    policy = InvoicePlan(session, invoice).policy
    count = form.number("count", low=2, high=policy.plan_max_instalments)
    frequency = form.choice("frequency", FREQUENCIES)
    first_on = form.day("first_on")
    form.check()
    assert count is not None and first_on is not None
    return count, frequency, first_on


@router.post("/{token}/plan/preview")
async def plan_preview(request: Request, token: str, background: BackgroundTasks) -> Response:
    def action(session: Session, access: PortalAccess, invoice: Invoice, form: Form) -> dict:
        from app.dunning.plans import InvoicePlan

        count, frequency, first_on = _plan_fields(form, access, invoice, session)
        context = InvoicePlan(session, invoice)
        proposal = propose_plan(
            amount_due_minor=invoice.amount_due_minor,
            count=count,
            first_on=first_on,
            frequency=frequency,
            policy=context.policy,
            today=context.calendar.local_date(_now(request)),
        )
        return {
            "template": "plan_preview.html",
            "proposal": proposal,
            "count": count,
            "frequency": frequency,
            "first_on": first_on,
        }

    return await _act(request, token, "plan", action, background, consumes_form=False)


@router.post("/{token}/plan")
async def plan(request: Request, token: str, background: BackgroundTasks) -> Response:
    def action(session: Session, access: PortalAccess, invoice: Invoice, form: Form) -> dict:
        count, frequency, first_on = _plan_fields(form, access, invoice, session)
        create_plan(
            session,
            invoice=invoice,
            count=count,
            first_on=first_on,
            frequency=frequency,
            now=_now(request),
            actor="customer",
        )
        return {}

    return await _act(request, token, "plan", action, background)


@router.post("/{token}/dispute")
async def dispute(request: Request, token: str, background: BackgroundTasks) -> Response:
    def action(session: Session, access: PortalAccess, invoice: Invoice, form: Form) -> dict:
        reason = form.choice("reason", DISPUTE_REASONS)
        message = form.text("message")
        form.check()
        open_dispute(
            session,
            invoice=invoice,
            reason=reason,
            message=message,
            now=_now(request),
            actor="customer",
        )
        return {}

    return await _act(request, token, "dispute", action, background)


@router.post("/{token}/message")
async def message(request: Request, token: str, background: BackgroundTasks) -> Response:
    def action(session: Session, access: PortalAccess, invoice: Invoice, form: Form) -> dict:
        text = form.text("message")
        form.check()
        assert access.organisation.id is not None
        record_reply(
            session,
            organisation_id=access.organisation.id,
            customer=access.customer,
            invoice=invoice,
            channel="portal",
            kind="human",
            sender="",
            subject="",
            body=text,
            message_id=None,
            matched_by="link",
            now=_now(request),
        )
        return {"template": "done.html"}

    return await _act(request, token, "message", action, background)


@router.post("/{token}/opt-out")
async def stop_emails(request: Request, token: str, background: BackgroundTasks) -> Response:
    def action(session: Session, access: PortalAccess, invoice: Invoice, form: Form) -> dict:
        opt_out(session, access.customer, now=_now(request), via="portal")
        return {"template": "done.html"}

    return await _act(request, token, "opt-out", action, background)


# --- one-click unsubscribe (RFC 8058) and ratings -----------------------------------------


@router.get("/{token}/unsubscribe", response_class=HTMLResponse)
def unsubscribe_page(request: Request, token: str) -> Response:
    runtime = _runtime(request)
    with session_scope(runtime.engine) as session:
        try:
            access = open_link(session, runtime.settings.secret_key, token, purpose="unsubscribe")
        except LinkRefused as error:
            return _refused(request, error)
        # A GET never unsubscribes: link scanners and previews fetch URLs on their own.
        return render(
            request,
            runtime.settings,
            "unsubscribe.html",
            locale=_locale(access),
            organisation=access.organisation,
            token=token,
            done=False,
            brand_colour=access.organisation.brand_colour,
        )


@router.post("/{token}/unsubscribe", response_class=HTMLResponse)
def unsubscribe(request: Request, token: str) -> Response:
    """One click from the mail client (List-Unsubscribe=One-Click) or the page's button."""
    runtime = _runtime(request)
    with session_scope(runtime.engine) as session:
        try:
            access = open_link(session, runtime.settings.secret_key, token, purpose="unsubscribe")
        except LinkRefused as error:
            return _refused(request, error)
        opt_out(session, access.customer, now=runtime.clock.now(), via="one-click")
        return render(
            request,
            runtime.settings,
            "unsubscribe.html",
            locale=_locale(access),
            organisation=access.organisation,
            token=token,
            done=True,
            brand_colour=access.organisation.brand_colour,
        )


@router.get("/{token}/rate", response_class=HTMLResponse)
def rate_page(request: Request, token: str, score: str | None = None) -> Response:
    chosen = int(score) if score and score.isascii() and score.isdecimal() else None
    runtime = _runtime(request)
    with session_scope(runtime.engine) as session:
        try:
            access = open_link(session, runtime.settings.secret_key, token, purpose="rate")
            invoice = access.invoice_by_external_id(session, None)
        except LinkRefused as error:
            return _refused(request, error)
        return render(
            request,
            runtime.settings,
            "rate.html",
            link_token=token,
            token=token,
            locale=_locale(access),
            organisation=access.organisation,
            invoice=invoice,
            score=chosen if chosen in range(1, 6) else None,
            done=False,
            brand_colour=access.organisation.brand_colour,
        )


@router.post("/{token}/rate", response_class=HTMLResponse)
async def rate(request: Request, token: str) -> Response:
    data = dict(await request.form())
    return await run_in_threadpool(_rate_sync, request, token, data)


def _rate_sync(request: Request, token: str, data: dict[str, Any]) -> Response:
    runtime = _runtime(request)
    with session_scope(runtime.engine) as session:
        try:
            access = open_link(session, runtime.settings.secret_key, token, purpose="rate")
            invoice = access.invoice_by_external_id(session, None)
        except LinkRefused as error:
            return _refused(request, error)
        if not csrf.is_valid(runtime.settings.secret_key, request, data.get(csrf.FIELD), token):
            return render(
                request,
                runtime.settings,
                "expired_form.html",
                status=403,
                link_token=token,
                token=token,
            )
        form = Form(data)
        score = form.number("score", low=1, high=5)
        comment = form.text("comment", required=False, max_length=2000)
        common: dict[str, Any] = {
            "locale": _locale(access),
            "organisation": access.organisation,
            "invoice": invoice,
            "brand_colour": access.organisation.brand_colour,
            "link_token": token,
            "token": token,
        }
        if form.errors or score is None:
            return render(
                request,
                runtime.settings,
                "rate.html",
                status=422,
                score=None,
                done=False,
                errors=form.errors,
                **common,
            )
        record_rating(session, invoice, score=score, comment=comment, now=runtime.clock.now())
        return render(request, runtime.settings, "rate.html", score=score, done=True, **common)


@router.get("/{token}/{action}", include_in_schema=False)
def action_by_get(token: str, action: str) -> Response:
    """A form address opened as a page (a bookmark, a reload): back to the invoices, unchanged."""
    return RedirectResponse(f"/p/{token}", status_code=303)
