"""The `politely` command as an operator types it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx


def _politely(
    tmp_path: Path, *args: str, stdin: str = "", **env: str
) -> subprocess.CompletedProcess:
    environment = {
        **os.environ,
        "POLITELY_DATABASE_URL": f"sqlite:///{tmp_path / 'politely.db'}",
        "POLITELY_OUTBOX_DIR": str(tmp_path / "outbox"),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        capture_output=True,
        text=True,
        env=environment,
        input=stdin,
        timeout=60,
        check=False,
    )


def test_migrate_creates_the_default_organisation_and_keys_work(tmp_path: Path) -> None:
    assert _politely(tmp_path, "migrate").returncode == 0
    created = _politely(tmp_path, "keys", "create", "--org", "default", "--name", "books")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("pk_") and len(key) > 30
    assert key not in (tmp_path / "politely.db").read_bytes().decode("latin-1")
    unknown = _politely(tmp_path, "keys", "create", "--org", "nope", "--name", "x")
    assert unknown.returncode == 2 and "no organisation 'nope'" in unknown.stderr
    assert _politely(tmp_path, "orgs", "create", "acme").returncode == 0
    again = _politely(tmp_path, "orgs", "create", "acme")
    assert again.returncode == 2 and "already exists" in again.stderr


def test_tick_sends_through_the_dev_outbox(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from app.db import make_engine
    from app.main import create_app
    from app.settings import Settings

    key = _politely(tmp_path, "keys", "create", "--org", "default", "--name", "t").stdout.split()[
        -1
    ]
    url = f"sqlite:///{tmp_path / 'politely.db'}"
    engine = make_engine(url)
    settings = Settings(database_url=url, outbox_dir=tmp_path / "outbox", test_clock=True)
    with TestClient(create_app(settings, engine=engine)) as client:
        headers = {"Authorization": f"Bearer {key}"}
        client.put("/api/v1/test-clock", headers=headers, json={"now": "2026-12-02T10:00:00Z"})
        client.put(
            "/api/v1/customers/c1",
            headers=headers,
            json={"name": "Fern Cafe", "email": "ap@fern.test", "timezone": "UTC"},
        )
        response = client.put(
            "/api/v1/invoices/i1",
            headers=headers,
            json={
                "customer": "c1",
                "number": "F-7",
                "currency": "EUR",
                "amount_total": "40.00",
                "due_on": "2026-12-02",
            },
        )
        assert response.status_code == 201
    engine.dispose()
    ticked = _politely(tmp_path, "tick", POLITELY_TEST_CLOCK="1")
    assert ticked.returncode == 0, ticked.stderr
    assert "sent        i1                   due_today" in ticked.stdout
    assert "1 sent, 1 actions at 2026-12-02 10:00 UTC" in ticked.stdout
    emails = list((tmp_path / "outbox").glob("*.eml"))
    assert len(emails) == 1
    assert b"F-7" in emails[0].read_bytes()
    again = _politely(tmp_path, "tick", POLITELY_TEST_CLOCK="1")
    assert "0 sent, 0 actions" in again.stdout
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1


def test_a_broken_policy_file_stops_start_up_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "politely.toml"
    config.write_text(
        '[policies.standard]\nsteps = [{ key = "a", offset_days = "three", tone = "friendly" }]\n'
    )
    result = _politely(tmp_path, "serve", "--port", "0", POLITELY_CONFIG=str(config))
    assert result.returncode == 2
    assert "policies.standard.steps[0].offset_days" in result.stderr


def test_production_refuses_the_development_secret(tmp_path: Path) -> None:
    result = _politely(tmp_path, "migrate", POLITELY_ENV="production")
    assert result.returncode != 0
    assert "POLITELY_SECRET_KEY" in result.stderr


def test_serve_answers_on_the_network(tmp_path: Path) -> None:
    import socket
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = {
        **os.environ,
        "POLITELY_DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}",
        "POLITELY_OUTBOX_DIR": str(tmp_path / "outbox"),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--demo"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        for _ in range(100):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        docs = httpx.get(f"http://127.0.0.1:{port}/docs")
        assert docs.status_code == 200
        # Every asset of the docs page comes from Politely itself, never a CDN.
        assets = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
        assert assets and all(asset.startswith("/") for asset in assets), assets
        for asset in assets:
            assert httpx.get(f"http://127.0.0.1:{port}{asset}").status_code == 200
        spec = httpx.get(f"http://127.0.0.1:{port}/openapi.json").json()
        assert "/api/v1/invoices/{external_id}/schedule" in spec["paths"]
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=20)
    key = next(line.split("API key: ")[1] for line in output.splitlines() if "API key: " in line)
    assert key.startswith("pk_")
