"""Every admin route, found from the app itself: anonymous requests and forged posts fail."""

from __future__ import annotations

import re

from tests.admin.conftest import AdminSession
from tests.conftest import Api, all_routes

OPEN = {"/admin/login"}  # the only admin page an anonymous visitor may load


def _admin_routes(api: Api) -> list[tuple[str, str]]:
    return [
        (method, path)
        for method, path in all_routes(api.client.app)
        if path.startswith("/admin") and method in ("GET", "POST")
    ]


def _concrete(path: str) -> str:
    # Any value will do: the request must be refused before the value matters.
    return re.sub(r"\{[^}]+\}", "1", path)


def test_anonymous_requests_never_reach_an_admin_page(api: Api) -> None:
    routes = _admin_routes(api)
    assert len(routes) > 15  # the areas are all there
    for method, path in routes:
        if path in OPEN or path == "/admin":
            continue
        url = _concrete(path)
        page = api.client.request(method, url, follow_redirects=False)
        assert page.status_code == 303, (method, path, page.status_code)
        assert page.headers["location"].startswith("/admin/login"), (method, path)
        json = api.client.request(method, url, headers={"Accept": "application/json"})
        assert json.status_code == 401, (method, path, json.status_code)


def test_posts_without_the_csrf_token_are_refused(admin: AdminSession) -> None:
    for method, path in _admin_routes(admin.api):
        if method != "POST" or path == "/admin/login":
            continue
        response = admin.client.post(
            _concrete(path), data={"note": "x"}, headers={"Origin": "https://evil.example"}
        )
        # Refused as forged (403) — or, where the id does not exist, as not found (404);
        # never accepted.
        assert response.status_code in (403, 404), (path, response.status_code)
        forged = admin.client.post(_concrete(path), data={"csrf_token": "0" * 64})
        assert forged.status_code in (403, 404), (path, forged.status_code)
