"""In-process SMTP servers on 127.0.0.1 for transport tests: aiosmtpd, plus a scripted fake."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Received:
    peer: Any
    mail_from: str
    rcpt_tos: list[str]
    content: bytes


@dataclass
class RecordingHandler:
    """Accepts mail, except for recipients in `refuse` and replies scripted per stage."""

    refuse: dict[str, str] = field(default_factory=dict)
    mail_reply: str | None = None
    data_reply: str | None = None
    received: list[Received] = field(default_factory=list)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.mail_reply:
            return self.mail_reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_reply:
            return self.data_reply
        self.received.append(
            Received(session.peer, envelope.mail_from, list(envelope.rcpt_tos), envelope.content)
        )
        return "250 Message accepted for delivery"


def password_checker(user: str, password: str):
    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == user
            and auth_data.password.decode() == password
        )
        return AuthResult(success=ok, handled=False)

    return authenticator


@contextmanager
def aiosmtpd_server(handler: RecordingHandler, **smtp_options: Any) -> Iterator[int]:
    """Run a real aiosmtpd server in its own thread; yields its port."""
    port = free_port()
    controller = Controller(
        handler, hostname="127.0.0.1", port=port, server_hostname="localhost", **smtp_options
    )
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


class ScriptedServer:
    """A minimal SMTP server in the test's event loop, for failures aiosmtpd cannot stage.

    after_data: "accept" | "drop" (close without a reply) | "hang" (never reply)
    | "accept_then_close" (reply 250, then hang up as an idle-timeout server would)
    | "drop_on_data_command" (hang up when DATA arrives, before any content)
    | "stale_after_message" (after a message, hang up on the next command: a connection
      that died while idle without the client noticing).
    """

    def __init__(self, after_data: str = "accept") -> None:
        self.after_data = after_data
        self.connections = 0
        self.messages: list[bytes] = []
        self._release = asyncio.Event()
        self._server: asyncio.AbstractServer | None = None
        self.port = 0

    async def __aenter__(self) -> ScriptedServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._release.set()
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        delivered_here = False
        writer.write(b"220 localhost scripted ESMTP\r\n")
        try:
            while line := await reader.readline():
                verb = line[:4].upper()
                if delivered_here and self.after_data == "stale_after_message":
                    break
                if verb == b"EHLO":
                    writer.write(b"250-localhost\r\n250 8BITMIME\r\n")
                elif verb == b"QUIT":
                    writer.write(b"221 bye\r\n")
                    break
                elif verb == b"DATA" and self.after_data == "drop_on_data_command":
                    break
                elif verb == b"DATA":
                    writer.write(b"354 go ahead\r\n")
                    await writer.drain()
                    content = b""
                    while (chunk := await reader.readline()) not in (b".\r\n", b""):
                        content += chunk
                    self.messages.append(content)
                    if self.after_data == "drop":
                        break
                    if self.after_data == "hang":
                        await self._release.wait()
                        break
                    writer.write(b"250 queued\r\n")
                    delivered_here = True
                    if self.after_data == "accept_then_close":
                        await writer.drain()
                        break
                else:
                    writer.write(b"250 OK\r\n")
                await writer.drain()
        finally:
            writer.close()
