"""Builds the MIME message for a rendered reminder with the stdlib email package."""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from datetime import datetime
from email import policy
from email.headerregistry import Address, BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, cast

from app.mail.render import RenderedEmail

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*")
_LOCAL_PART = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}")
_MESSAGE_ID = re.compile(r"<[!-;=?-~]{1,250}@[!-;=?-~]{1,250}>")
_URL = re.compile(r"[a-z][a-z0-9+.-]*:[!-;=?-~]+", re.IGNORECASE)
_LINE_BREAKS = re.compile(r"[\r\n\x00]")


class _TokenListHeader:
    """Space-separated ASCII tokens (message ids, <url>) folded only between tokens.

    The stdlib folds an over-long unstructured word by turning it into an RFC 2047
    encoded word, which breaks List-Unsubscribe URLs and References ids for every client.
    """

    max_count: int | None = 1

    @classmethod
    def parse(cls, value: str, kwds: dict[str, Any]) -> None:
        kwds["parse_tree"] = None
        kwds["decoded"] = " ".join(value.split())

    def fold(self, *, policy: policy.Policy) -> str:
        limit = policy.max_line_length or 998
        lines: list[str] = [f"{self.name}:"]  # type: ignore[attr-defined]
        for index, token in enumerate(str(self).split()):
            # The first token stays on the header line, or parsers see a leading space.
            if index and len(lines[-1]) + 1 + len(token) > limit:
                lines.append("")
            lines[-1] += f" {token}"
        return policy.linesep.join(lines) + policy.linesep


def _policy() -> policy.EmailPolicy[EmailMessage]:
    registry = HeaderRegistry(base_class=BaseHeader)
    for name in ("list-unsubscribe", "in-reply-to", "references"):
        # The registry mixes BaseHeader in itself; typeshed wants the finished class.
        registry.map_to_type(name, cast("type[BaseHeader]", _TokenListHeader))
    # The SMTP policy refuses CR/LF in header values; lines end in CRLF on the wire.
    return policy.SMTP.clone(header_factory=registry)


POLICY = _policy()


def _refuse_line_breaks(field: str, value: str) -> str:
    if _LINE_BREAKS.search(value):
        raise ValueError(f"{field} must not contain line breaks")
    return value


def _address(field: str, addr_spec: str, display_name: str = "") -> Address:
    _refuse_line_breaks(field, display_name)
    _refuse_line_breaks(field, addr_spec)
    local, at, domain = addr_spec.strip().rpartition("@")
    if not at or not _LOCAL_PART.fullmatch(local) or ".." in local:
        raise ValueError(f"{field}: not a usable email address: {addr_spec!r}")
    try:
        # Internationalised domains travel as punycode; the local part must stay ASCII.
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise ValueError(f"{field}: not a usable email domain: {domain!r}") from exc
    if not _DOMAIN.fullmatch(ascii_domain):
        raise ValueError(f"{field}: not a usable email domain: {domain!r}")
    return Address(display_name=display_name.strip(), username=local, domain=ascii_domain)


def usable_address(addr_spec: str) -> str:
    """The address as the composer will accept it; ValueError says why it cannot be used."""
    return _address("email", addr_spec).addr_spec


def _message_id(field: str, value: str) -> str:
    if not _MESSAGE_ID.fullmatch(value.strip()):
        raise ValueError(f"{field}: not a message id like <unique@domain>: {value!r}")
    return value.strip()


def make_message_id(domain: str) -> str:
    """A fresh "<unique@domain>" id; random, so two workers never collide."""
    ascii_domain = _address("domain", f"x@{domain}").domain
    return f"<{secrets.token_hex(16)}@{ascii_domain}>"


def compose_reminder(
    *,
    rendered: RenderedEmail,
    from_name: str,
    from_address: str,
    to: Sequence[str],
    cc: Sequence[str] = (),
    reply_to: str | None = None,
    message_id: str,
    in_reply_to: str | None = None,
    references: Sequence[str] = (),
    unsubscribe_url: str,
    sent_at: datetime,
) -> EmailMessage:
    """A multipart/alternative reminder (text first, HTML second) with threading headers."""
    if not to:
        raise ValueError("a reminder needs at least one recipient")
    if sent_at.tzinfo is None or sent_at.utcoffset() is None:
        raise ValueError("sent_at must be timezone-aware")
    if not _URL.fullmatch(unsubscribe_url) or len(unsubscribe_url) > 900:
        raise ValueError(f"not a usable unsubscribe URL: {unsubscribe_url!r}")

    thread = [_message_id("references", ref) for ref in references]
    if in_reply_to is not None:
        in_reply_to = _message_id("in_reply_to", in_reply_to)
        if in_reply_to not in thread:
            thread.append(in_reply_to)

    message = EmailMessage(policy=POLICY)
    message["Subject"] = _refuse_line_breaks("subject", rendered.subject)
    message["From"] = _address("from", from_address, from_name)
    message["To"] = [_address("to", each) for each in to]
    if cc:
        message["Cc"] = [_address("cc", each) for each in cc]
    if reply_to:
        message["Reply-To"] = _address("reply_to", reply_to)
    message["Date"] = format_datetime(sent_at)
    message["Message-ID"] = _message_id("message_id", message_id)
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if thread:
        message["References"] = " ".join(thread)
    # RFC 3834: marks the mail as automatic so well-behaved systems don't auto-reply to it.
    message["Auto-Submitted"] = "auto-generated"
    # RFC 8058 one-click unsubscribe: mail providers POST to the URL, no login needed.
    message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"

    # Quoted-printable keeps the parts 7-bit, so no server needs 8BITMIME.
    message.set_content(rendered.text, subtype="plain", cte="quoted-printable")
    message.add_alternative(rendered.html, subtype="html", cte="quoted-printable")
    return message
