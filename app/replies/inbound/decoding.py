"""Turns bytes of any declared charset and RFC 2047 encoded words into clean text."""

from __future__ import annotations

import base64
import binascii
import re

from app.replies.inbound.model import MAX_HEADER_CHARS

# Mail labelled Latin-1 or ASCII is in practice written by Windows clients (curly quotes, the
# euro sign in 0x80-0x9F), and unlabelled 8-bit text today is mostly UTF-8.
_WESTERN = {"iso-8859-1", "iso8859-1", "latin-1", "latin1", "l1", "cp819", "iso_8859-1"}
_ASCII = {"", "us-ascii", "ascii", "ansi_x3.4-1968", "unknown-8bit", "x-unknown", "default"}

_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([QqBb])\?([^?\s]*)\?=")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_HEADER_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_FOLD = re.compile(r"\r?\n(?=[ \t])")


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Decode with the declared charset, falling back to UTF-8, Windows-1252 and Latin-1."""
    label = (charset or "").strip().strip("\"'").lower()
    if label in _ASCII:
        candidates = ["utf-8", "cp1252"]
    elif label in _WESTERN:
        candidates = ["cp1252"]
    else:
        candidates = [label, "utf-8", "cp1252"]
    for candidate in candidates:
        # The *_escape codecs interpret backslashes; no mail is written in them.
        if "escape" in candidate:
            continue
        try:
            return data.decode(candidate)
        except (LookupError, UnicodeDecodeError, ValueError):
            continue
    return data.decode("latin-1")  # total: every byte maps to a character


def recover_8bit(value: str) -> str:
    """Undo the parser's surrogate escapes for raw 8-bit header bytes (RFC 6532 UTF-8 headers)."""
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return decode_bytes(value.encode("utf-8", "surrogateescape"), None)


def clean_text(text: str) -> str:
    """Normalise line ends and drop control characters (PostgreSQL refuses NUL in text)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", recover_8bit(text))


def _decode_word(charset: str, encoding: str, payload: str) -> bytes | None:
    try:
        if encoding in "bB":
            padded = payload + "=" * (-len(payload) % 4)
            return base64.b64decode(padded.encode("ascii"))
        return binascii.a2b_qp(payload.encode("ascii"), header=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None


def decode_words(value: str) -> str:
    """Decode RFC 2047 encoded words; adjacent words of one charset are joined before decoding
    because some mailers split a multi-byte character across two words."""
    out: list[str] = []
    pending = b""
    pending_charset: str | None = None
    position = 0

    def flush() -> None:
        nonlocal pending, pending_charset
        if pending_charset is not None:
            out.append(decode_bytes(pending, pending_charset))
        pending, pending_charset = b"", None

    for match in _ENCODED_WORD.finditer(value):
        between = value[position : match.start()]
        charset = match.group(1).split("*", 1)[0].lower()  # RFC 2231 language suffix
        decoded = _decode_word(charset, match.group(2), match.group(3))
        if decoded is None:
            flush()
            out.append(between + match.group(0))
        else:
            # Whitespace between two encoded words is folding, not content (RFC 2047 section 6.2).
            if between.strip() or pending_charset is None:
                flush()
                out.append(between)
            elif pending_charset != charset:
                flush()
            pending += decoded
            pending_charset = charset
        position = match.end()
    flush()
    out.append(value[position:])
    return "".join(out)


def unfold(value: str) -> str:
    """Join folded header lines and make the value safe to handle as text."""
    return recover_8bit(_FOLD.sub("", value[:MAX_HEADER_CHARS]))


def header_text(value: str | None) -> str:
    """A header value as a person would read it: unfolded, decoded, one line."""
    if not value:
        return ""
    text = decode_words(unfold(value))
    return re.sub(r"\s+", " ", _HEADER_CONTROL.sub(" ", text)).strip()
