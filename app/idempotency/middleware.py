"""The Idempotency-Key middleware for POSTs under /api/v1.

A small ASGI middleware rather than a dependency: a dependency cannot see the answer's body,
and this way every existing and future POST route gets the behaviour without being edited.

- The first successful (2xx) answer to a key is stored per organisation and returned again,
  with `Idempotent-Replayed: true`, for the same key, method, path and body.
- The same key with another path or body is 422; a key still being processed is 409.
- An error answer is not stored: errors change nothing, so the key may be used again.
- The payment webhooks and inbound email authenticate by signature and have their own
  replay protection, so they are left alone.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.idempotency import store

HEADER = b"idempotency-key"
MAX_KEY_LENGTH = 255
MAX_BODY = 16 * 1024 * 1024
EXEMPT = ("/api/v1/webhooks/", "/api/v1/inbound/")


def install_idempotency(app: FastAPI) -> None:
    """Adds the middleware once (calling it twice is harmless)."""
    if not any(entry.cls is IdempotencyMiddleware for entry in app.user_middleware):
        app.add_middleware(IdempotencyMiddleware)


def _applies(scope: Scope) -> bool:
    if scope["type"] != "http":
        return False
    path: str = scope["path"]
    return scope["method"] == "POST" and path.startswith("/api/v1/") and not path.startswith(EXEMPT)


async def _answer(
    send: Send, status: int, body: bytes, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _refuse(send: Send, status: int, message: str) -> None:
    detail = [{"loc": ["header", "Idempotency-Key"], "msg": message, "type": "value_error"}]
    await _answer(send, status, json.dumps({"detail": detail}).encode())


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not _applies(scope):
            await self.app(scope, receive, send)
            return
        headers: dict[bytes, bytes] = dict(scope["headers"])
        raw_key = headers.get(HEADER)
        if raw_key is None:
            await self.app(scope, receive, send)
            return
        key = raw_key.decode("latin-1").strip()
        if not 1 <= len(key) <= MAX_KEY_LENGTH:
            await _refuse(send, 400, f"must be 1 to {MAX_KEY_LENGTH} characters long")
            return
        body, more = await _read_body(receive)
        if more:
            await _refuse(send, 413, "the request body is too large to be made idempotent")
            return
        replay = _replayer(body, receive)
        engine = scope["app"].state.runtime.engine
        api_key = _bearer(headers)
        organisation_id = (
            await run_in_threadpool(store.organisation_id_for, engine, api_key) if api_key else None
        )
        if organisation_id is None:  # the route itself answers 401
            await self.app(scope, replay, send)
            return
        outcome = await run_in_threadpool(
            lambda: store.claim(
                engine,
                organisation_id=organisation_id,
                key=key,
                method=scope["method"],
                path=scope["path"],
                digest=store.request_hash(
                    scope["method"], scope["path"], scope["query_string"].decode("latin-1"), body
                ),
            )
        )
        if isinstance(outcome, store.Refused):
            await _refuse(send, outcome.status_code, outcome.message)
        elif isinstance(outcome, store.Replay):
            await _answer(
                send,
                outcome.status_code,
                outcome.body.encode(),
                [(b"idempotent-replayed", b"true")],
            )
        else:
            await self._run(scope, replay, send, engine, outcome)

    async def _run(
        self, scope: Scope, receive: Receive, send: Send, engine: Any, claimed: store.Claimed
    ) -> None:
        start: Message | None = None
        chunks: list[bytes] = []
        settled = False

        async def capture(message: Message) -> None:
            nonlocal start, settled
            if message["type"] == "http.response.start":
                start = message  # held back until the answer is stored
                return
            if message["type"] != "http.response.body" or start is None or settled:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            settled = True
            body = b"".join(chunks)
            # Stored before the client sees it: a client that got the answer can rely on it.
            await run_in_threadpool(_settle, engine, claimed, start, body)
            await send(start)
            await send({"type": "http.response.body", "body": body})

        try:
            await self.app(scope, receive, capture)
        except BaseException:
            if not settled:
                await run_in_threadpool(store.release, engine, claimed)
            raise
        if not settled:
            await run_in_threadpool(store.release, engine, claimed)


def _settle(engine: Any, claimed: store.Claimed, start: Message, body: bytes) -> None:
    status = int(start["status"])
    content_type = dict(start.get("headers", [])).get(b"content-type", b"")
    if 200 <= status < 300 and content_type.startswith(b"application/json"):
        store.store(engine, claimed, status_code=status, body=body.decode("utf-8"))
    else:
        store.release(engine, claimed)


def _bearer(headers: dict[bytes, bytes]) -> str:
    scheme, _, credentials = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else ""


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    """The whole body; `True` as the second value when it is over MAX_BODY."""
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(parts), False
        part = message.get("body", b"")
        size += len(part)
        if size > MAX_BODY:
            return b"", True
        parts.append(part)
        if not message.get("more_body", False):
            return b"".join(parts), False


def _replayer(body: bytes, receive: Receive) -> Receive:
    """Hands the body already read to the app, then passes on what the server sends next."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
