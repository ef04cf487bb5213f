"""SMTP delivery with aiosmtplib, telling a safe retry from a send whose outcome is unknown."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

from aiosmtplib import (
    SMTP,
    SMTPException,
    SMTPRecipientRefused,
    SMTPResponseException,
    SMTPServerDisconnected,
    SMTPTimeoutError,
)
from aiosmtplib.response import SMTPResponse

from app.mail.delivery import (
    DeliveryError,
    OutcomeUnknown,
    PermanentFailure,
    SendResult,
    TemporaryFailure,
    envelope,
    wire_bytes,
)


def data_payload(message_bytes: bytes) -> bytes:
    # SMTP content ends with "<CRLF>.<CRLF>", so a line that starts with a dot is doubled.
    normalised = re.sub(rb"\r\n|\r|\n", b"\r\n", message_bytes)
    if not normalised.endswith(b"\r\n"):
        normalised += b"\r\n"
    return re.sub(rb"(?m)^\.", b"..", normalised) + b".\r\n"


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    tls: str  # "starttls" | "tls" (implicit) | "none"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0
    validate_certs: bool = True
    local_hostname: str | None = None


def parse_smtp_url(url: str) -> SmtpSettings:
    """smtp://user:pass@host:587?tls=starttls | smtps://host:465 | smtp://host:25?tls=none.

    Optional query: timeout=<seconds>, verify=false (self-signed relay), helo=<name>.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in {"smtp", "smtps"} or not parts.hostname:
        raise ValueError("an SMTP URL looks like smtp://user:password@host:587?tls=starttls")
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    port = parts.port
    tls = query.get("tls", "").lower() or None
    if tls not in {None, "starttls", "tls", "none"}:
        raise ValueError("tls must be one of starttls, tls, none")
    if scheme == "smtps":
        if tls not in {None, "tls"}:
            raise ValueError("smtps:// always means implicit TLS")
        tls = "tls"
    elif tls is None:
        tls = {587: "starttls", 465: "tls"}.get(port or 25, "none")
    timeout = float(query.get("timeout", "30"))
    if not timeout > 0:
        raise ValueError("timeout must be a positive number of seconds")
    return SmtpSettings(
        host=parts.hostname,
        port=port or {"tls": 465, "starttls": 587}.get(tls, 25),
        tls=tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        timeout=timeout,
        validate_certs=query.get("verify", "true").lower() not in {"false", "0", "no"},
        local_hostname=query.get("helo") or None,
    )


def _refusal(what: str, code: int, text: str) -> DeliveryError:
    if 400 <= code < 500:
        return TemporaryFailure(f"{what}: {code} {text}", code=code)
    return PermanentFailure(f"{what}: {code} {text}", code=code)


class SmtpTransport:
    """One SMTP connection, opened on the first send and reused until the pass ends."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._smtp: SMTP | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def from_url(cls, url: str) -> SmtpTransport:
        return cls(parse_smtp_url(url))

    async def __aenter__(self) -> SmtpTransport:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None and smtp.is_connected:
            try:
                await smtp.quit()
            except (SMTPException, OSError):
                smtp.close()

    def _drop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
        self._smtp = None

    async def _reset(self) -> None:
        # End a half-built transaction so the connection can carry the next message.
        if self._smtp is None:
            return
        try:
            await self._smtp.rset()
        except (SMTPException, OSError):
            self._drop()

    async def _connection(self) -> SMTP:
        if self._smtp is not None and self._smtp.is_connected:
            return self._smtp
        self._drop()
        s = self.settings
        smtp = SMTP(
            hostname=s.host,
            port=s.port,
            username=s.username,
            password=s.password,
            use_tls=s.tls == "tls",
            # True, not None: when STARTTLS was asked for, never fall back to plain text.
            start_tls=s.tls == "starttls",
            timeout=s.timeout,
            validate_certs=s.validate_certs,
            local_hostname=s.local_hostname,
        )
        try:
            await smtp.connect()
        except (SMTPException, OSError) as exc:
            # Refused, timed out, TLS or login failure: nothing was sent, so it can wait.
            smtp.close()
            code = exc.code if isinstance(exc, SMTPResponseException) else None
            raise TemporaryFailure(
                f"cannot use SMTP server {s.host}:{s.port}: {exc}", code=code
            ) from exc
        self._smtp = smtp
        return smtp

    async def _start_transaction(self, sender: str) -> SMTP:
        for attempt in (1, 2):
            reused = self._smtp is not None and self._smtp.is_connected
            smtp = await self._connection()
            try:
                await smtp.mail(sender)
                return smtp
            except SMTPResponseException as exc:
                await self._reset()
                raise _refusal(f"sender {sender} refused", exc.code, exc.message) from exc
            except (SMTPServerDisconnected, SMTPTimeoutError, OSError) as exc:
                self._drop()
                # An idle reused connection may have been closed by the server; one fresh
                # attempt is safe because nothing of this message was sent yet.
                if reused and attempt == 1:
                    continue
                raise TemporaryFailure(f"SMTP connection lost before sending: {exc}") from exc
        raise AssertionError("unreachable")

    async def send(self, message: EmailMessage) -> SendResult:
        sender, recipients = envelope(message)
        if not sender or not recipients:
            raise PermanentFailure("the message has no sender or no recipients")
        payload = data_payload(wire_bytes(message))
        async with self._lock:
            return await self._send_locked(sender, recipients, payload)

    async def _send_locked(self, sender: str, recipients: list[str], payload: bytes) -> SendResult:
        smtp = await self._start_transaction(sender)
        accepted: list[str] = []
        refused: dict[str, tuple[int, str]] = {}
        deferred: dict[str, tuple[int, str]] = {}
        try:
            for recipient in recipients:
                try:
                    await smtp.rcpt(recipient)
                    accepted.append(recipient)
                except SMTPRecipientRefused as exc:
                    rejected = refused if exc.code >= 500 else deferred
                    rejected[recipient] = (exc.code, exc.message)
            if not accepted:
                await self._reset()
                if deferred:
                    # Nobody got it and some refusals are only for now: the whole send can wait.
                    code = next(iter(deferred.values()))[0]
                    raise TemporaryFailure(f"no recipient accepted it yet: {deferred}", code=code)
                code = next(iter(refused.values()))[0]
                raise PermanentFailure("every recipient was refused", code=code, refused=refused)
            reply = await smtp.execute_command(b"DATA")
        except (SMTPServerDisconnected, SMTPTimeoutError, OSError) as exc:
            self._drop()
            raise TemporaryFailure(f"SMTP connection lost before sending: {exc}") from exc
        if reply.code != 354:
            await self._reset()
            raise _refusal("the server refused DATA", reply.code, reply.message)
        reply = await self._transmit(smtp, payload)
        if reply.code == 250:
            return SendResult(accepted=accepted, refused=refused, deferred=deferred)
        if reply.code == 421:
            self._drop()
        raise _refusal("the server refused the message", reply.code, reply.message)

    async def _transmit(self, smtp: SMTP, payload: bytes) -> SMTPResponse:
        # aiosmtplib's data() sends the DATA command and the content in one call, so a lost
        # connection there cannot say whether the content went out. Writing the content on
        # the protocol ourselves keeps "not sent" (retry) apart from "sent, no reply" (unknown).
        protocol = smtp.protocol
        try:
            if protocol is None:
                raise SMTPServerDisconnected("Connection lost")
            protocol.write(payload)
        except (SMTPServerDisconnected, OSError) as exc:
            self._drop()
            raise TemporaryFailure(f"SMTP connection lost before sending: {exc}") from exc
        try:
            reply = await protocol.read_response(timeout=self.settings.timeout)
        except (SMTPException, OSError) as exc:
            self._drop()
            raise OutcomeUnknown(
                f"the message was sent but the server gave no final reply ({exc}); "
                "it may have been delivered"
            ) from exc
        if not 200 <= reply.code < 600:
            self._drop()
            raise OutcomeUnknown(f"unexpected final reply {reply.code} {reply.message}")
        return reply
