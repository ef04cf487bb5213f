"""A real webhook receiver on 127.0.0.1 and the steps the outbound webhook tests share."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, text
from standardwebhooks.webhooks import Webhook

from app.runtime import Runtime
from app.webhooks.runner import close_shared_client, deliver_due_webhooks
from tests.conftest import CUSTOMER, Api, free_port, invoice_body

LONDON = ZoneInfo("Europe/London")


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def payload(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 that records every POST and answers `status`."""

    port: int = field(default_factory=free_port)
    status: int = 200
    requests: list[Received] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    def url(self, path: str = "/events") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.requests.append(Received(self.path, headers, body))
                self.send_response(receiver.status)
                self.send_header("content-type", "text/plain")
                self.end_headers()
                self.wfile.write(b"thanks" if receiver.status < 300 else b"broken inside")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Down: connections are refused."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def of_type(self, kind: str) -> list[Received]:
        return [r for r in self.requests if r.payload()["type"] == kind]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.start()
    yield receiver
    receiver.stop()


def runtime_of(api: Api) -> Runtime:
    app = api.client.app
    assert isinstance(app, FastAPI)
    runtime: Runtime = app.state.runtime
    return runtime


def deliver(api: Api) -> int:
    """One pass of the background job, as `serve` and `worker` run it every 2 seconds."""
    runtime = runtime_of(api)

    async def once() -> int:
        try:
            return await deliver_due_webhooks(runtime)
        finally:
            await close_shared_client()

    return asyncio.run(once())


def make_retries_due(db: Engine) -> None:
    """Stand in for waiting: every pending delivery's next attempt is now."""
    with db.begin() as connection:
        connection.execute(
            text("UPDATE webhook_delivery SET next_attempt_at = :at WHERE status = 'pending'"),
            {"at": (datetime.now(UTC) - timedelta(seconds=1)).replace(tzinfo=None)},
        )


def add_endpoint(api: Api, url: str, events: list[str] | None = None) -> dict[str, Any]:
    response = api.post("/webhook-endpoints", {"url": url, "events": events or ["*"]})
    assert response.status_code == 201, response.text
    return dict(response.json())


def send_a_reminder(api: Api, invoice: str = "inv-1001") -> None:
    """An invoice due in three days: the scheduler sends the `upcoming` reminder now."""
    api.set_clock(datetime(2026, 11, 23, 10, 0, tzinfo=LONDON))
    assert api.put("/customers/bakery", CUSTOMER).status_code in (200, 201)
    assert api.put(f"/invoices/{invoice}", invoice_body(due_on="2026-11-26")).status_code == 201
    report = api.run_scheduler()
    assert [o["result"] for o in report["outcomes"]] == ["sent"], report


def verified(received: Received, secret: str) -> Any:
    """What the official standardwebhooks library makes of the request (raises if forged)."""
    return Webhook(secret).verify(received.body, received.headers)


def deliveries(api: Api, endpoint: dict[str, Any]) -> list[dict[str, Any]]:
    response = api.get(f"/webhook-endpoints/{endpoint['id']}/deliveries")
    assert response.status_code == 200, response.text
    return list(response.json())
