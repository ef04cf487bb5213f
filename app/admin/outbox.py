"""Sent mail: every email that went out for the organisation, shown as the customer saw it.

The pages read the `sent_message` table (the exact text handed to the transport), so they
work for SMTP and for the development outbox alike; the nav only links here in development.
"""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage, Message
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func
from sqlmodel import col, select

from app.admin.auth import Admin, AdminDep, runtime_of
from app.admin.inert import without_live_links
from app.admin.pages import render
from app.db import session_scope
from app.dunning.models import SentMessage

router = APIRouter(prefix="/admin/outbox", include_in_schema=False)
PAGE_SIZE = 50
SHOWN_HEADERS = ("From", "To", "Cc", "Reply-To", "Subject", "Date", "Message-ID")


def parse(raw: str) -> EmailMessage:
    message = email.message_from_string(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def _header(message: Message, name: str) -> str:
    try:
        value = message.get(name)
    except (ValueError, IndexError):  # a header the parser cannot make sense of
        return ""
    return str(value) if value is not None else ""


def _part_text(message: EmailMessage, subtype: str) -> str | None:
    part = message.get_body((subtype,))
    if part is None:
        return None
    try:
        return str(part.get_content())
    except (LookupError, UnicodeError):  # unknown or wrong charset: show what we can
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else None


@dataclass(frozen=True)
class Summary:
    id: int
    sent_at: datetime
    recipients: str
    subject: str


def summarise(row: SentMessage) -> Summary:
    message = parse(row.raw)
    recipients = ", ".join(
        value for value in (_header(message, "To"), _header(message, "Cc")) if value
    )
    return Summary(row.id or 0, row.sent_at, recipients, _header(message, "Subject"))


@router.get("", response_class=HTMLResponse)
def sent_mail(request: Request, admin: AdminDep, page: str = "1") -> Response:
    number = _whole_number(page)
    if number is None:
        return _problem(request, admin, 422, "The page number must be a whole number from 1.")
    messages: list[Summary] = []
    with session_scope(runtime_of(request).engine) as session:
        mine = SentMessage.organisation_id == admin.organisation_id
        total = session.exec(select(func.count(col(SentMessage.id))).where(mine)).one()
        pages = max((int(total) + PAGE_SIZE - 1) // PAGE_SIZE, 1)
        if number <= pages:  # past the end there is nothing to fetch
            rows = session.exec(
                select(SentMessage)
                .where(mine)
                .order_by(col(SentMessage.sent_at).desc(), col(SentMessage.id).desc())
                .offset((number - 1) * PAGE_SIZE)
                .limit(PAGE_SIZE)
            ).all()
            messages = [summarise(row) for row in rows]
    return render(
        request, admin, "outbox.html", messages=messages, page=number, pages=pages, total=total
    )


@router.get("/by-message-id")
def by_message_id(
    request: Request, admin: AdminDep, header: Annotated[str, Query(alias="id")] = ""
) -> Response:
    """Other pages know a Message-ID, not our row id; send them to the right page."""
    wanted = header.strip()
    if not wanted:
        return _problem(request, admin, 422, "Give the Message-ID of the email to show.")
    # Stored with angle brackets, as in the header; accept it with or without them.
    candidates = {wanted, f"<{wanted.strip('<>')}>"}
    with session_scope(runtime_of(request).engine) as session:
        found = session.exec(
            select(SentMessage.id).where(
                SentMessage.organisation_id == admin.organisation_id,
                col(SentMessage.message_id).in_(candidates),
            )
        ).first()
    if found is None:
        return _problem(request, admin, 404, "No email with that Message-ID was sent by us.")
    return RedirectResponse(f"/admin/outbox/{found}", status_code=303)


@router.get("/{message_id}", response_class=HTMLResponse)
def sent_message(request: Request, admin: AdminDep, message_id: str) -> Response:
    row, wanted = None, _whole_number(message_id)
    if wanted is not None:
        with session_scope(runtime_of(request).engine) as session:
            row = session.exec(
                select(SentMessage).where(
                    SentMessage.id == wanted,
                    SentMessage.organisation_id == admin.organisation_id,
                )
            ).first()
            if row is not None:
                session.expunge(row)
    if row is None:
        return _problem(request, admin, 404, "There is no such email.")
    message = parse(row.raw)
    headers = [(name, _header(message, name)) for name in SHOWN_HEADERS]
    html = _part_text(message, "html")
    return render(
        request,
        admin,
        "outbox_message.html",
        row=row,
        headers=[(name, value) for name, value in headers if value],
        subject=_header(message, "Subject"),
        html=without_live_links(html) if html is not None else None,
        text=_part_text(message, "plain"),
    )


def _whole_number(text: str) -> int | None:
    """A positive number small enough for an integer column (a bigger one would be a 500)."""
    if not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if 0 < value < 2**31 else None


def _problem(request: Request, admin: Admin, status: int, message: str) -> Response:
    return render(request, admin, "outbox_problem.html", status=status, message=message)
