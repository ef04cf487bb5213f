"""The parsed inbound email, its bounce records, the format error and the size limits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# A reply is read by a person on the worklist; anything longer than this is noise or an attack.
MAX_TEXT_CHARS = 100_000
# HTML is converted before capping, so bound the work the converter may be asked to do.
MAX_HTML_CHARS = 1_000_000
# Raw MIME beyond this is cut: the headers and the text part come first in every real message.
MAX_RAW_BYTES = 10_000_000
MAX_HEADER_CHARS = 16_000
MAX_MESSAGE_IDS = 200
MAX_RECIPIENTS = 200

Kind = Literal["human", "auto_reply", "bounce"]


@dataclass(frozen=True)
class BouncedRecipient:
    """One recipient a delivery report says could not (yet) be reached."""

    address: str
    status: str
    diagnostic: str
    permanent: bool


@dataclass(frozen=True)
class InboundEmail:
    """An inbound message reduced to what matching and the timeline need."""

    sender: str
    sender_name: str
    recipients: tuple[str, ...]
    subject: str
    message_id: str | None
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    text: str
    reply_text: str
    kind: Kind
    bounces: tuple[BouncedRecipient, ...] = ()
    auto_reply_reason: str | None = None


class InboundFormatError(ValueError):
    """The payload is not the format it claims: required fields are missing or of the wrong type."""
