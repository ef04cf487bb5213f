"""The development outbox: each sent message becomes an .eml file instead of leaving the machine."""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from app.mail.delivery import SendResult, envelope, wire_bytes

_UNSAFE_FILENAME_CHARS = re.compile(r"[^A-Za-z0-9._@-]+")


def _file_stem(message: EmailMessage) -> str:
    # The wall clock only orders files for people reading the outbox; no decision uses it.
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    message_id = str(message.get("Message-ID", "")).strip().strip("<>")
    safe_id = _UNSAFE_FILENAME_CHARS.sub("_", message_id).strip("._")[:100] or "no-id"
    return f"{stamp}-{safe_id}"


def write_eml(directory: Path, message: EmailMessage) -> Path:
    """Write the message atomically (temp file, then rename) and return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = _file_stem(message)
    descriptor, temp_name = tempfile.mkstemp(dir=directory, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(wire_bytes(message))
            handle.flush()
            os.fsync(handle.fileno())
        target = directory / f"{stem}.eml"
        counter = 1
        while target.exists():
            target = directory / f"{stem}-{counter}.eml"
            counter += 1
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return target


class OutboxTransport:
    """Accepts every recipient and keeps the message as `<timestamp>-<message-id>.eml`."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    async def __aenter__(self) -> OutboxTransport:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def send(self, message: EmailMessage) -> SendResult:
        _, recipients = envelope(message)
        await asyncio.to_thread(write_eml, self.directory, message)
        return SendResult(accepted=recipients, refused={})


def list_outbox(outbox_dir: Path) -> list[Path]:
    """The .eml files in the outbox, newest first (names start with a UTC timestamp)."""
    directory = Path(outbox_dir)
    if not directory.is_dir():
        return []
    return sorted(directory.glob("*.eml"), key=lambda path: path.name, reverse=True)
