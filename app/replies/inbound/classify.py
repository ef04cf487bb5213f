"""Decides whether a message is a person's reply, an automatic reply or a delivery report."""

from __future__ import annotations

import re
from collections.abc import Sequence

from app.replies.inbound.decoding import header_text
from app.replies.inbound.headers import Headers, normalise_address, parse_addresses
from app.replies.inbound.model import BouncedRecipient, Kind

_REPORT_TYPES = {"delivery-status", "global-delivery-status"}
_NOT_FAILURES = {"delivered", "relayed", "expanded"}
_STATUS = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
_SMTP_CODE = re.compile(r"\b([45])\d\d\b")
_MAX_DIAGNOSTIC = 500
_MAX_BOUNCES = 100
_MAX_SCANNED = 50_000  # a bounce states its recipients near the top

_DAEMONS = {"mailer-daemon", "postmaster"}
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|delivery status notification|mail delivery (failed|failure|system)"
    r"|delivery (has )?failed|delivery failure|returned mail|failure notice|could not be delivered"
    r"|non-?deliverable|unzustellbar|non remis|delayed mail|delivery delayed|delivery (is )?delayed"
    r"|warning: could not send",
    re.IGNORECASE,
)
_DELAY = re.compile(r"delay|will (be )?retr|still trying|temporar", re.IGNORECASE)

# Not "list": a person replying through a shared mailing-list address (accounts@) is a human.
_AUTO_PRECEDENCE = {"bulk", "auto_reply", "junk"}
_SUPPRESS_TOKENS = {"all", "oof", "autoreply"}
_AUTO_SUBJECT = re.compile(
    r"^\s*\[?\s*(out of (the )?office|automatic reply|auto(matic)?[ -]?(reply|response)"
    r"|autoreply|auto:|automatische antwort|abwesenheitsnotiz|abwesend|réponse automatique"
    r"|reponse automatique|absence du bureau|fuera de la oficina|respuesta automática"
    r"|risposta automatica|fuori sede|automatisch antwoord|afwezig|resposta automática)",
    re.IGNORECASE,
)

# Addresses a non-standard bounce states plainly: Postfix "<addr>: reason", Exim's indented list
# after "following address(es) failed", Gmail's "wasn't delivered to addr".
# Local part and domain exclude "@" so that no pattern can backtrack over a hostile line.
_ADDRESS = r"[^<>\s@]+@[^<>\s@]+"
_POSTFIX_LINE = re.compile(rf"^\s*<({_ADDRESS})>:?\s*(.*)$")
_EXIM_INTRO = re.compile(r"following (address(\(es\)|es)?|recipients?) failed", re.IGNORECASE)
_BARE_ADDRESS = re.compile(rf"^\s+<?({_ADDRESS}?)>?:?\s*$")
_SENTENCE = re.compile(
    rf"(?:wasn't|was not|could not be|couldn't be) delivered to <?({_ADDRESS})",
    re.IGNORECASE,
)


def _media_type(headers: Headers) -> tuple[str, str]:
    value = header_text(headers.get("content-type")).lower()
    report = re.search(r"report-type\s*=\s*\"?([\w.-]+)", value)
    return value.split(";", 1)[0].strip(), report.group(1) if report else ""


def is_delivery_report(headers: Headers) -> bool:
    media, report_type = _media_type(headers)
    return media == "multipart/report" and report_type in _REPORT_TYPES


def _status_of(explicit: str, diagnostic: str, failed: bool, delayed: bool) -> str:
    for source in (explicit, diagnostic):
        found = _STATUS.search(source)
        if found:
            return found.group(1)
    code = _SMTP_CODE.search(diagnostic)
    if code:
        return f"{code.group(1)}.0.0"
    if failed:
        return "5.0.0"
    return "4.0.0" if delayed else ""


def _typed_address(value: str | None) -> str:
    """The address of an RFC 3464 "rfc822; user@host" field."""
    text = header_text(value)
    return normalise_address(text.split(";", 1)[1] if ";" in text else text)


def bounces_from_report(blocks: Sequence[Headers]) -> list[BouncedRecipient]:
    """The failed or delayed recipients of a message/delivery-status part (RFC 3464)."""
    bounces: list[BouncedRecipient] = []
    for block in blocks:
        # The address as we sent it is what identifies our contact, so it wins over the final one.
        address = _typed_address(block.get("original-recipient")) or _typed_address(
            block.get("final-recipient")
        )
        action = header_text(block.get("action")).lower()
        if not address or action in _NOT_FAILURES:
            continue
        diagnostic = header_text(block.get("diagnostic-code"))[:_MAX_DIAGNOSTIC]
        status = _status_of(
            header_text(block.get("status")), diagnostic, action == "failed", action == "delayed"
        )
        if status.startswith("2"):
            continue
        bounces.append(BouncedRecipient(address, status, diagnostic, status.startswith("5")))
    return _unique(bounces)


def _unique(bounces: list[BouncedRecipient]) -> list[BouncedRecipient]:
    seen: dict[str, BouncedRecipient] = {}
    for bounce in bounces:
        seen.setdefault(bounce.address, bounce)
    return list(seen.values())[:_MAX_BOUNCES]


def _explanation(lines: list[str], index: int, first: str) -> str:
    parts = [first.strip()] if first.strip() else []
    for line in lines[index + 1 : index + 12]:
        if not line.strip() or _POSTFIX_LINE.match(line) or (_BARE_ADDRESS.match(line) and parts):
            break
        parts.append(line.strip())
    return " ".join(parts)[:_MAX_DIAGNOSTIC]


def bounces_from_text(text: str, headers: Headers, subject: str) -> list[BouncedRecipient]:
    """Recipients a non-standard bounce names plainly; none when it does not say."""
    delayed = bool(_DELAY.search(subject)) and not re.search(r"fail", subject, re.IGNORECASE)
    found: list[tuple[str, str]] = []
    for _name, address in parse_addresses(headers.get_all("x-failed-recipients")):
        found.append((address, ""))
    lines = [line[:1_000] for line in text[:_MAX_SCANNED].splitlines()]
    in_exim_list = False
    for index, line in enumerate(lines):
        postfix = _POSTFIX_LINE.match(line)
        bare = _BARE_ADDRESS.match(line) if in_exim_list else None
        if postfix:
            found.append((postfix.group(1), _explanation(lines, index, postfix.group(2))))
        elif bare:
            found.append((bare.group(1), _explanation(lines, index, "")))
        if _EXIM_INTRO.search(line):
            in_exim_list = True
        elif line.startswith("------"):  # Exim's copy of the returned message begins
            in_exim_list = False
    for match in _SENTENCE.finditer(text[:_MAX_SCANNED]):
        found.append((match.group(1), ""))
    bounces = []
    for raw_address, explanation in found:
        address = normalise_address(raw_address.rstrip(".,;:>"))
        if not address:
            continue
        status = _status_of("", explanation, failed=not delayed, delayed=delayed)
        if status.startswith("2"):
            continue
        bounces.append(BouncedRecipient(address, status, explanation, status.startswith("5")))
    # An address named twice (header and body) keeps the record with the explanation.
    bounces.sort(key=lambda bounce: not bounce.diagnostic)
    return _unique(bounces)


def _looks_like_bounce(headers: Headers, sender: str, subject: str) -> bool:
    if "x-failed-recipients" in headers:
        return True
    local_part = sender.rpartition("@")[0]
    null_return_path = header_text(headers.get("return-path")).replace(" ", "") == "<>"
    daemon = local_part in _DAEMONS
    return (daemon or null_return_path) and bool(_BOUNCE_SUBJECT.search(subject))


def auto_reply_reason(headers: Headers, subject: str) -> str | None:
    """The first signal that marks the message as automatic, as "Header: value"."""
    if "auto-submitted" in headers:
        value = headers.text("auto-submitted")
        if value.split(";", 1)[0].strip().lower() != "no":
            return f"Auto-Submitted: {value}".strip()
    for name in ("X-Autoreply", "X-Autorespond"):
        if name in headers:
            return f"{name}: {headers.text(name)}".strip()
    for name in ("Precedence", "X-Precedence"):
        value = headers.text(name)
        if value.lower() in _AUTO_PRECEDENCE:
            return f"{name}: {value}"
    suppress = headers.text("x-auto-response-suppress")
    if _SUPPRESS_TOKENS & {t.lower() for t in re.split(r"[\s,;]+", suppress) if t}:
        return f"X-Auto-Response-Suppress: {suppress}"
    if _media_type(headers) == ("multipart/report", "disposition-notification"):
        # A read receipt (RFC 8098) is sent by software, not written by the customer.
        return "Content-Type: multipart/report; report-type=disposition-notification"
    if _AUTO_SUBJECT.match(subject):
        return f"Subject: {subject[:200]}"
    return None


def classify(
    headers: Headers,
    *,
    sender: str,
    subject: str,
    text: str,
    report_blocks: Sequence[Headers] | None,
) -> tuple[Kind, tuple[BouncedRecipient, ...], str | None]:
    """(kind, bounces, auto_reply_reason); a delivery report wins over auto-reply headers, which
    DSNs often carry too."""
    if is_delivery_report(headers):
        # Providers that pre-parse the mail drop the delivery-status part; read the text then.
        if report_blocks is None:
            bounces = bounces_from_text(text, headers, subject)
        else:
            bounces = bounces_from_report(report_blocks)
        return "bounce", tuple(bounces), None
    if _looks_like_bounce(headers, sender, subject):
        return "bounce", tuple(bounces_from_text(text, headers, subject)), None
    reason = auto_reply_reason(headers, subject)
    if reason:
        return "auto_reply", (), reason
    return "human", (), None
