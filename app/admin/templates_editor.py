"""The template editor: edit, preview, save (checked in the sandbox), history, rollback."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from app.admin.auth import Admin, AdminDep, read_form, runtime_of
from app.admin.pages import render
from app.db import session_scope
from app.dunning import preview as previews
from app.errors import NotFound, Unprocessable
from app.mail.context import normalise_locale
from app.mail.render import TemplateError
from app.mail.transport import MailTransport
from app.runtime import Runtime
from app.templates_store import service
from app.templates_store.models import TemplateVersion
from app.templates_store.service import EditableStep

router = APIRouter(prefix="/admin/templates", include_in_schema=False)
log = logging.getLogger("politely.admin")

PARTS = ("subject", "text", "html")
# Room for any email; a file pasted by mistake is refused rather than stored.
MAX_SOURCE_CHARS = 100_000
_LOCALE = re.compile(r"[a-z]{2,3}(?:_[A-Za-z0-9]{1,8})*")


def known_locale(locale: str) -> bool:
    """A locale Babel knows, spelt as the renderer names its folders ("en", "de_AT")."""
    return bool(_LOCALE.fullmatch(locale)) and normalise_locale(locale) == locale


@dataclass
class Edit:
    """One request on one template: who, which step and locale, in one transaction."""

    request: Request
    admin: Admin
    session: Session
    locale: str
    step: EditableStep

    @property
    def runtime(self) -> Runtime:
        return runtime_of(self.request)

    @property
    def templates_dir(self) -> Path:
        return self.runtime.settings.templates_dir

    def newest(self) -> TemplateVersion | None:
        return service.latest(self.session, self.admin.organisation_id, self.locale, self.step.key)

    def sources(self, version: TemplateVersion | None) -> dict[str, str]:
        return service.version_sources(self.templates_dir, version, self.locale, self.step)

    def version(self, raw_id: str) -> TemplateVersion:
        if not raw_id.isdigit():
            raise NotFound("no such template version")
        return service.find_version(
            self.session,
            organisation_id=self.admin.organisation_id,
            version_id=int(raw_id),
            locale=self.locale,
            step=self.step.key,
        )

    def done(self, message: str) -> Response:
        where = f"/admin/templates/{self.locale}/{self.step.key}"
        return RedirectResponse(f"{where}?{urlencode({'done': message})}", status_code=303)

    def page(self, *, status: int = 200, **shown: Any) -> HTMLResponse:
        """The editor, with the newest version (or the posted draft) in the textareas."""
        versions = service.history(
            self.session, self.admin.organisation_id, self.locale, self.step.key
        )
        diff_of = shown.pop("diff_of", None)
        values = {
            "sources": self.sources(versions[0] if versions else None),
            "invoice": "sample",
            "preview": None,
            "preview_label": "",
            "error": "",
            "notice": "",
            **shown,
        }
        return render(
            self.request,
            self.admin,
            "templates_editor.html",
            status=status,
            locale=self.locale,
            step=self.step,
            base=f"/admin/templates/{self.locale}/{self.step.key}",
            versions=versions,
            invoices=previews.open_invoices(self.session, self.admin.organisation_id),
            diff_of=diff_of,
            diff_text=(
                service.diff_with_previous(self.session, self.templates_dir, diff_of, self.step)
                if diff_of
                else ""
            ),
            variables=previews.sample_variables(self.step.key, self.locale),
            **values,
        )


Work = Callable[[Edit], Response]


def _within(request: Request, admin: Admin, locale: str, step: str, work: Work) -> Response:
    """Runs `work` in one transaction for a known step; anything not found is a 404 page."""
    runtime = runtime_of(request)
    editable = service.editable_step(runtime.settings.templates_dir, step)
    try:
        if editable is None or not known_locale(locale):
            raise NotFound("no such template")
        with session_scope(runtime.engine) as session:
            return work(Edit(request, admin, session, locale, editable))
    except NotFound:
        return render(request, admin, "templates_missing.html", status=404)


@router.get("", response_class=HTMLResponse)
def template_list(request: Request, admin: AdminDep, locale: str = "") -> HTMLResponse:
    runtime = runtime_of(request)
    with session_scope(runtime.engine) as session:
        newest = service.newest_versions(session, admin.organisation_id)
    wanted, error = normalise_locale(locale), ""
    if locale and wanted.lower() != locale.strip().replace("-", "_").lower():
        error = f"“{locale}” is not a language code Politely knows; try one like de or fr_CA."
    extra = [wanted] if locale and not error else []
    locales = sorted({"en", *(code for code, _ in newest), *extra}, key=lambda c: (c != "en", c))
    steps = service.editable_steps(runtime.settings.templates_dir)
    tables = [(code, [(step, newest.get((code, step.key))) for step in steps]) for code in locales]
    status = 422 if error else 200
    return render(request, admin, "templates_list.html", status=status, tables=tables, error=error)


@router.get("/{locale}/{step}", response_class=HTMLResponse)
def editor(request: Request, admin: AdminDep, locale: str, step: str, diff: str = "") -> Response:
    def work(edit: Edit) -> Response:
        return edit.page(diff_of=edit.version(diff) if diff else None)

    return _within(request, admin, locale, step, work)


@router.post("/{locale}/{step}/preview", response_class=HTMLResponse)
async def preview(request: Request, admin: AdminDep, locale: str, step: str) -> Response:
    form = await read_form(request, admin)

    def work(edit: Edit) -> Response:
        return _try_draft(edit, form, test=False)[0]

    return await run_in_threadpool(_within, request, admin, locale, step, work)


@router.post("/{locale}/{step}/test", response_class=HTMLResponse)
async def send_test(
    request: Request, admin: AdminDep, locale: str, step: str, tasks: BackgroundTasks
) -> Response:
    form = await read_form(request, admin)

    def work(edit: Edit) -> Response:
        response, message = _try_draft(edit, form, test=True)
        if message is not None:
            tasks.add_task(send_in_background, edit.runtime.transport(), message)
        return response

    return await run_in_threadpool(_within, request, admin, locale, step, work)


@router.post("/{locale}/{step}/save", response_class=HTMLResponse)
async def save(request: Request, admin: AdminDep, locale: str, step: str) -> Response:
    form = await read_form(request, admin)

    def work(edit: Edit) -> Response:
        draft, problem = _draft(form)
        kept = {"sources": draft, "invoice": form.get("invoice", "sample")}
        if problem:
            return edit.page(status=422, error=problem, **kept)
        if draft == edit.sources(edit.newest()):
            return edit.done("Nothing was changed, so no new version was saved.")
        try:
            version = service.save_version(
                edit.session,
                templates_dir=edit.templates_dir,
                organisation_id=admin.organisation_id,
                locale=locale,
                step=edit.step.key,
                author=admin.user.email,
                now=edit.runtime.clock.now(),
                note=form.get("note", "").strip()[:500] or None,
                **draft,
            )
        except Unprocessable as error:  # the sandbox check refused it: nothing was stored
            return edit.page(status=422, error=error.message, **kept)
        return edit.done(f"Saved as version {version.version}.")

    return await run_in_threadpool(_within, request, admin, locale, step, work)


@router.post("/{locale}/{step}/rollback", response_class=HTMLResponse)
async def rollback(request: Request, admin: AdminDep, locale: str, step: str) -> Response:
    form = await read_form(request, admin)

    def work(edit: Edit) -> Response:
        old = edit.version(form.get("version_id", ""))
        assert old.id is not None
        new = service.rollback_to(
            edit.session,
            organisation_id=admin.organisation_id,
            version_id=old.id,
            author=admin.user.email,
            now=edit.runtime.clock.now(),
        )
        return edit.done(f"Rolled back to version {old.version}, saved as version {new.version}.")

    return await run_in_threadpool(_within, request, admin, locale, step, work)


@router.post("/{locale}/{step}/reset", response_class=HTMLResponse)
async def reset(request: Request, admin: AdminDep, locale: str, step: str) -> Response:
    await read_form(request, admin)

    def work(edit: Edit) -> Response:
        newest = edit.newest()
        if newest is None or newest.is_default:
            return edit.done("This email already uses the shipped default.")
        new = service.reset_to_default(
            edit.session,
            organisation_id=admin.organisation_id,
            locale=locale,
            step=edit.step.key,
            author=admin.user.email,
            now=edit.runtime.clock.now(),
        )
        return edit.done(f"Reset to the shipped default, saved as version {new.version}.")

    return await run_in_threadpool(_within, request, admin, locale, step, work)


def send_in_background(transport: MailTransport, message: EmailMessage) -> None:
    """Runs after the response went out, so a slow mail server never holds up the page."""

    async def send() -> None:
        async with transport:
            await transport.send(message)

    try:
        asyncio.run(send())
    except Exception:
        log.exception("the test email %s could not be sent", message["Message-ID"])


def _draft(form: dict[str, str]) -> tuple[dict[str, str], str]:
    # Browsers send textareas with CRLF line ends; the files and the diffs use LF.
    draft = {part: form.get(part, "").replace("\r\n", "\n").replace("\r", "\n") for part in PARTS}
    too_long = [part for part, source in draft.items() if len(source) > MAX_SOURCE_CHARS]
    if too_long:
        return draft, f"The {too_long[0]} is too long: at most {MAX_SOURCE_CHARS:,} characters."
    return draft, ""


def _try_draft(
    edit: Edit, form: dict[str, str], *, test: bool
) -> tuple[Response, EmailMessage | None]:
    """Render the posted draft on the chosen invoice; for a test, also write the email."""
    choice = form.get("invoice", "sample")
    target = _target(edit, choice)
    draft, problem = _draft(form)
    if test and not any(part in form for part in PARTS):
        draft = edit.sources(edit.newest())  # no draft posted: test what is in use now
    kept: dict[str, Any] = {"sources": draft, "invoice": choice}
    if problem:
        return edit.page(status=422, error=problem, **kept), None
    try:
        rendered = service.render_draft(
            edit.session,
            templates_dir=edit.templates_dir,
            organisation_id=edit.admin.organisation_id,
            locale=edit.locale,
            step=edit.step.key,
            sources=draft,
            context=target.context,
        )
    except TemplateError as error:  # names the template, the line and the reason
        return edit.page(status=422, error=str(error), **kept), None
    kept |= {"preview": rendered, "preview_label": target.label}
    if not test:
        return edit.page(**kept), None
    email = edit.admin.user.email
    try:
        message = previews.test_message(
            rendered=rendered,
            organisation=edit.admin.organisation,
            settings=edit.runtime.settings,
            to=email,
            now=edit.runtime.clock.now(),
        )
    except ValueError as error:  # the composer refused an address
        return edit.page(status=422, error=f"No test email could be written: {error}", **kept), None
    notice = f"A test email on {target.label} is on its way to {email}."
    return edit.page(notice=notice, **kept), message


def _target(edit: Edit, choice: str) -> previews.Preview:
    if not choice or choice == "sample":
        return previews.sample_preview(edit.step.key, edit.locale)
    invoice = previews.find_invoice(edit.session, edit.admin.organisation_id, choice)
    return previews.invoice_preview(
        edit.session,
        edit.runtime.settings,
        invoice,
        step=edit.step.key,
        tone=edit.step.tone,
        now=edit.runtime.clock.now(),
    )
