"""Header access by name, and the addresses, message ids and reply tokens found in headers."""

from __future__ import annotations

import re
from collections.abc import Iterable
from email.utils import getaddresses

from app.replies.inbound.decoding import decode_words, header_text, unfold
from app.replies.inbound.model import MAX_MESSAGE_IDS, MAX_RECIPIENTS

_MAX_HEADERS = 1_000
_ATOMS = r"[^@\s<>()\[\],;:\"\\]+"
_ADDR_SPEC = re.compile(rf"{_ATOMS}@{_ATOMS}")
_BRACKETED_ID = re.compile(r"<([^<>\s]+)>")


class Headers:
    """Raw header values by case-insensitive name, in message order."""

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items: list[tuple[str, str]] = []
        for name, value in items:
            if len(self._items) >= _MAX_HEADERS:
                break
            if isinstance(name, str) and isinstance(value, str):
                self._items.append((name.strip().lower(), value))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(n == name.lower() for n, _ in self._items)

    def add(self, name: str, value: str) -> None:
        self._items.append((name.strip().lower(), value))

    def setdefault(self, name: str, value: str | None) -> None:
        """Add a value the provider gave separately, unless the header block already has it."""
        if value and name not in self:
            self.add(name, value)

    def get(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for n, v in self._items if n == wanted), None)

    def get_all(self, name: str) -> list[str]:
        wanted = name.lower()
        return [v for n, v in self._items if n == wanted]

    def text(self, name: str) -> str:
        """The first value, decoded for reading."""
        return header_text(self.get(name))


def normalise_address(value: str) -> str:
    """A lowercased addr-spec, or "" when the value is not one."""
    address = value.strip().strip("<>").strip().lower()
    return address if _ADDR_SPEC.fullmatch(address) else ""


def parse_addresses(values: Iterable[str]) -> list[tuple[str, str]]:
    """(display name, lowercased addr-spec) pairs; unparseable entries are skipped."""
    # Split on the raw value and decode names afterwards: a decoded name may contain commas.
    raw = [unfold(v) for v in values if v]
    try:
        pairs = getaddresses(raw)
    except Exception:  # a hostile header must not stop the whole message
        return []
    result = []
    for name, address in pairs[:MAX_RECIPIENTS]:
        normalised = normalise_address(address)
        if normalised:
            result.append((header_text(decode_words(name)), normalised))
    return result


def message_ids(value: str | None) -> list[str]:
    """Message ids in "<...>" form, in order, without repeats."""
    if not value:
        return []
    text = unfold(value)
    found = _BRACKETED_ID.findall(text)
    if not found:
        # Some relays drop the angle brackets; accept bare id-left@id-right tokens then.
        found = [t for t in re.split(r"[\s,]+", text) if "@" in t and "<" not in t and ">" not in t]
    ids: list[str] = []
    for item in found:
        candidate = f"<{item}>"
        if candidate not in ids:
            ids.append(candidate)
    if len(ids) > MAX_MESSAGE_IDS:
        # Keep the thread root and the most recent ids, which are what matching looks at.
        ids = ids[:1] + ids[-(MAX_MESSAGE_IDS - 1) :]
    return ids


def dedupe(addresses: Iterable[str]) -> tuple[str, ...]:
    seen: list[str] = []
    for address in addresses:
        if address and address not in seen:
            seen.append(address)
    return tuple(seen[:MAX_RECIPIENTS])


def reply_tokens(recipients: Iterable[str]) -> list[str]:
    """The "+token" of each recipient local part that has one, lowercased, in order, once each."""
    tokens: list[str] = []
    for recipient in recipients:
        if not isinstance(recipient, str):
            continue
        address = recipient
        if "<" in recipient:
            parsed = parse_addresses([recipient])
            address = parsed[0][1] if parsed else ""
        local, at, _domain = address.strip().rpartition("@")
        if not at or "+" not in local:
            continue
        token = local.split("+", 1)[1].strip().lower()
        if token and token not in tokens:
            tokens.append(token)
    return tokens
