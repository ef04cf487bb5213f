"""Signing in and out of the admin pages, and what an anonymous visitor gets."""

from __future__ import annotations

from sqlalchemy import Engine

from tests.admin.conftest import AdminSession, csrf_in, log_in, make_user
from tests.conftest import Api


def test_login_then_logout_ends_the_session(admin: AdminSession) -> None:
    page = admin.get("/admin/dashboard")
    assert page.status_code == 200 and "ann@northwind.test" in page.text
    cookie = admin.client.cookies.get("politely_admin")
    assert cookie
    out = admin.post("/admin/logout", follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/admin/login"
    # The old cookie no longer works, even if someone kept a copy.
    admin.client.cookies.set("politely_admin", cookie, path="/admin")
    again = admin.get("/admin/dashboard", follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"].startswith("/admin/login")


def test_anonymous_pages_redirect_and_json_gets_401(api: Api) -> None:
    page = api.client.get("/admin/worklist", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/admin/login?next=/admin/worklist"
    json = api.client.get("/admin/worklist", headers={"Accept": "application/json"})
    assert json.status_code == 401


def test_wrong_passwords_lock_the_account_for_a_while(api: Api, db: Engine) -> None:
    make_user(db, "default", "ann@northwind.test")
    for _ in range(5):
        failed = log_in(api.client, "ann@northwind.test", "not the password at all")
        assert failed.status_code == 401
        assert "do not match" in failed.text
    locked = log_in(api.client, "ann@northwind.test")
    assert locked.status_code == 401 and "Too many failed attempts" in locked.text
    unknown = log_in(api.client, "nobody@northwind.test")
    assert unknown.status_code == 401 and "do not match" in unknown.text


def test_login_form_needs_its_csrf_token_and_next_stays_on_site(api: Api, db: Engine) -> None:
    make_user(db, "default", "ann@northwind.test")
    forged = api.client.post(
        "/admin/login",
        data={"email": "ann@northwind.test", "password": "correct horse battery staple"},
    )
    assert forged.status_code == 403
    page = api.client.get("/admin/login?next=https://evil.example/")
    response = api.client.post(
        "/admin/login",
        data={
            "email": "ann@northwind.test",
            "password": "correct horse battery staple",
            "csrf_token": csrf_in(page.text),
            "next": "https://evil.example/",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/admin/dashboard"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" in cookie
