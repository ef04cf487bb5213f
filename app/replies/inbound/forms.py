"""Reading provider payload fields whatever shape the web framework handed them over in."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from app.replies.inbound.decoding import decode_bytes
from app.replies.inbound.model import InboundFormatError


def require_mapping(payload: object, provider: str) -> Mapping[str, Any]:
    if not isinstance(payload, Mapping):
        raise InboundFormatError(f"{provider} payload must be a mapping of fields")
    return payload


def field(form: Mapping[str, Any], name: str, charset: str | None = None) -> str:
    """A field as text: exact name first, then any case; bytes are decoded with the charset the
    provider declared; a repeated field gives its first value; anything else counts as absent."""
    value = form.get(name)
    if value is None:
        wanted = name.lower()
        matches = (v for k, v in form.items() if isinstance(k, str) and k.lower() == wanted)
        value = next(matches, None)
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    if isinstance(value, bytes | bytearray):
        return decode_bytes(bytes(value), charset)
    return value if isinstance(value, str) else ""


def has_field(form: Mapping[str, Any], name: str) -> bool:
    wanted = name.lower()
    return any(isinstance(k, str) and k.lower() == wanted for k in form)


def json_field(form: Mapping[str, Any], name: str) -> Any:
    """A JSON-encoded field, or None when it is absent or not valid JSON."""
    text = field(form, name)
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def strings(value: object) -> list[str]:
    """The strings in a JSON value that should be a list of strings (or one string)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []
