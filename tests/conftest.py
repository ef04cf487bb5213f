"""Shared fixtures: a database per backend, the app, an API client, a real SMTP server."""

from __future__ import annotations

import email
import email.policy
import os
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlmodel import Session, SQLModel

import app.models  # noqa: F401  - every table on the metadata
from app.db import make_engine, migrate, session_scope
from app.main import create_app
from app.organisations.service import (
    create_api_key,
    create_organisation,
    ensure_default_organisation,
)
from app.settings import Settings

POSTGRES_URL = os.environ.get("POLITELY_TEST_POSTGRES_URL", "postgresql://127.0.0.1:5432/test")
IN_CI = bool(os.environ.get("CI"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Iterator[None]:
    """In CI nothing may be skipped: a missing PostgreSQL or browser is a failure there."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, which must run everything: {report.longrepr}"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgres_only: runs against PostgreSQL only")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A postgres_only test is not collected for SQLite at all (rather than skipped)."""
    keep, drop = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("database_url") if callspec else None
        marked = item.get_closest_marker("postgres_only") is not None
        (drop if marked and backend == "sqlite" else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


# --- databases ---------------------------------------------------------------------------


def _postgres_database() -> Iterator[str]:
    import psycopg

    name = f"politely_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: {error}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'politely.db'}"
    else:
        yield from _postgres_database()


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    migrate(engine)
    yield engine
    engine.dispose()


def _empty_tables(engine: Engine) -> None:
    tables = list(reversed(SQLModel.metadata.sorted_tables))
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{table.name}"' for table in tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(table.delete())


@pytest.fixture
def db(engine: Engine) -> Iterator[Engine]:
    """A clean database with only the `default` organisation."""
    _empty_tables(engine)
    with session_scope(engine) as session:
        ensure_default_organisation(session)
    yield engine


@pytest.fixture
def session(db: Engine) -> Iterator[Session]:
    with session_scope(db) as session:
        yield session


# --- mail ---------------------------------------------------------------------------------


@dataclass
class CapturedMail:
    envelope_from: str
    recipients: list[str]
    message: EmailMessage


@dataclass
class Inbox:
    """What a real SMTP server (aiosmtpd on loopback) received."""

    mails: list[CapturedMail] = field(default_factory=list)
    reply_code: str | None = None  # e.g. "451 try later" to make every RCPT fail
    refuse: dict[str, str] = field(default_factory=dict)  # address -> "550 no such user"
    drop_after_data: bool = False  # hang up after the content, before the final reply

    def reset(self) -> None:
        self.mails.clear()
        self.reply_code = None
        self.refuse.clear()
        self.drop_after_data = False

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if self.reply_code:
            return self.reply_code
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if self.drop_after_data:
            server.transport.close()
            return "250 never heard"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.mails.append(CapturedMail(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[tuple[Controller, Inbox]]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


@pytest.fixture
def inbox(smtp_server: tuple[Controller, Inbox]) -> Inbox:
    _, inbox = smtp_server
    inbox.reset()
    return inbox


# --- the app --------------------------------------------------------------------------------


@pytest.fixture
def settings(smtp_server: tuple[Controller, Inbox], tmp_path: Path, database_url: str) -> Settings:
    controller, _ = smtp_server
    return Settings(
        database_url=database_url,
        smtp_url=f"smtp://127.0.0.1:{controller.port}?tls=none",
        outbox_dir=tmp_path / "outbox",
        test_clock=True,
        base_url="https://politely.test",
        mail_from_address="accounts@northwind.test",
        mail_from_name="Northwind Supplies",
        allow_private_webhooks=True,  # the test receivers listen on 127.0.0.1
        secret_key="test-secret-for-links-and-sessions-0123456789",
    )


@dataclass
class Api:
    """An API client holding one organisation's key."""

    client: TestClient
    key: str
    slug: str

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}", **(extra or {})}

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(
            "/api/v1" + path, headers=self._headers(kw.pop("headers", None)), **kw
        )

    def put(self, path: str, json: Any = None, **kw: Any) -> Any:
        return self.client.put(
            "/api/v1" + path, json=json, headers=self._headers(kw.pop("headers", None)), **kw
        )

    def post(self, path: str, json: Any = None, **kw: Any) -> Any:
        return self.client.post(
            "/api/v1" + path, json=json, headers=self._headers(kw.pop("headers", None)), **kw
        )

    def set_clock(self, at: datetime) -> None:
        response = self.put("/test-clock", {"now": at.isoformat()})
        assert response.status_code == 200, response.text

    def run_scheduler(self) -> dict[str, Any]:
        response = self.post("/scheduler/run")
        assert response.status_code == 200, response.text
        return response.json()


def api_key_for(engine: Engine, slug: str) -> str:
    with session_scope(engine) as session:
        if slug == "default":
            organisation = ensure_default_organisation(session)
        else:
            organisation = create_organisation(session, slug=slug, name=slug.title())
        organisation.name = {"default": "Northwind Supplies"}.get(slug, organisation.name)
        session.add(organisation)
        _, key = create_api_key(session, organisation=organisation, name="tests")
    return key


@pytest.fixture
def client(db: Engine, settings: Settings) -> Iterator[TestClient]:
    # https, like the base URL in the links, so the Secure CSRF cookie comes back.
    with TestClient(create_app(settings, engine=db), base_url="https://politely.test") as client:
        yield client


@pytest.fixture
def api(client: TestClient, db: Engine) -> Api:
    return Api(client=client, key=api_key_for(db, "default"), slug="default")


CUSTOMER = {
    "name": "Harbour Street Bakery",
    "email": "accounts@harbour-bakery.test",
    "cc": ["owner@harbour-bakery.test"],
    "locale": "en_GB",
    "timezone": "Europe/London",
    "country": "GB",
}


def invoice_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "customer": "bakery",
        "number": "INV-1001",
        "currency": "GBP",
        "amount_total": "1250.00",
        "issued_on": "2026-09-01",
        "due_on": "2026-12-01",
        "payment_url": "https://pay.example.test/inv-1001",
    }
    body.update(overrides)
    return body


def all_routes(app: Any) -> list[tuple[str, str]]:
    """(method, path) of every route, including those of included routers (which this
    FastAPI keeps behind a wrapper rather than copying into app.routes)."""
    found: list[tuple[str, str]] = []
    for route in app.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        entries = contexts() if callable(contexts) else [route]
        for entry in entries:
            for method in getattr(entry, "methods", None) or ():
                found.append((method, entry.path))
    return sorted(set(found))
