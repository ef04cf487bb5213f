"""What every mail transport shares: the result, the failure kinds and the SMTP envelope."""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Protocol


@dataclass
class SendResult:
    """Who took the message while others were turned away.

    `refused`: recipients rejected for good (5xx), e.g. to mark a contact as bounced.
    `deferred`: recipients rejected only for now (4xx); they did not get this message.
    """

    accepted: list[str]
    refused: dict[str, tuple[int, str]] = field(default_factory=dict)
    deferred: dict[str, tuple[int, str]] = field(default_factory=dict)


class DeliveryError(Exception):
    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class TemporaryFailure(DeliveryError):
    """Nothing was delivered; trying again later is safe."""


class PermanentFailure(DeliveryError):
    """The server refused the sender, every recipient or the message for good."""

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        refused: dict[str, tuple[int, str]] | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.refused = dict(refused or {})


class OutcomeUnknown(DeliveryError):
    """The content was transmitted but no final reply came: it may have been delivered.

    Never retry automatically; a human decides, so the customer is not chased twice.
    """


class MailTransport(Protocol):
    async def __aenter__(self) -> MailTransport: ...

    async def __aexit__(self, *exc: object) -> None: ...

    async def send(self, message: EmailMessage) -> SendResult: ...


def envelope(message: EmailMessage) -> tuple[str, list[str]]:
    """The SMTP envelope of a message: the From address, and To + Cc without duplicates."""

    def addresses(header_name: str) -> list[str]:
        found: list[str] = []
        for header in message.get_all(header_name, []):
            parsed = getattr(header, "addresses", None)
            if parsed is not None:
                found.extend(address.addr_spec for address in parsed)
            else:
                found.extend(addr for _, addr in getaddresses([str(header)]) if addr)
        return found

    senders = addresses("From")
    recipients = list(dict.fromkeys(addresses("To") + addresses("Cc")))
    return (senders[0] if senders else ""), recipients


def wire_bytes(message: EmailMessage) -> bytes:
    """The message as RFC 5322 bytes with CRLF line endings."""
    return message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
