"""A signed-in admin of `default` (and, for tenancy checks, one of `acme`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app.db import session_scope
from app.organisations.service import create_organisation, ensure_default_organisation
from app.users.service import create_user
from tests.conftest import Api

PASSWORD = "correct horse battery staple"


def make_user(engine: Engine, slug: str, email: str) -> None:
    with session_scope(engine) as session:
        if slug == "default":
            organisation = ensure_default_organisation(session)
        else:
            organisation = create_organisation(session, slug=slug, name=slug.title())
        create_user(session, organisation=organisation, email=email, password=PASSWORD)


def csrf_in(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def log_in(client: TestClient, email: str, password: str = PASSWORD) -> Any:
    page = client.get("/admin/login")
    return client.post(
        "/admin/login",
        data={"email": email, "password": password, "csrf_token": csrf_in(page.text), "next": ""},
        follow_redirects=False,
    )


@dataclass
class AdminSession:
    """A browser-like client signed in as an admin, plus the API client of the same org."""

    client: TestClient
    api: Api

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(path, **kw)

    def post(
        self,
        path: str,
        data: dict[str, str] | None = None,
        *,
        csrf_from: str | None = None,
        **kw: Any,
    ) -> Any:
        """POST a form with the CSRF token of the page it is on (as a browser would)."""
        page = self.client.get(csrf_from or "/admin/dashboard")
        return self.client.post(path, data={"csrf_token": csrf_in(page.text), **(data or {})}, **kw)


@pytest.fixture
def admin(api: Api, db: Engine) -> AdminSession:
    make_user(db, "default", "ann@northwind.test")
    response = log_in(api.client, "ann@northwind.test")
    assert response.status_code == 303, response.text
    return AdminSession(client=api.client, api=api)
