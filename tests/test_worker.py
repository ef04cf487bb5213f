"""`politely worker` sends on its own clock, with no web server around it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from fastapi.testclient import TestClient

from app.db import make_engine, migrate
from app.main import create_app
from app.settings import Settings
from tests.conftest import api_key_for


def test_worker_ticks_and_sends(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'politely.db'}"
    engine = make_engine(url)
    migrate(engine)
    key = api_key_for(engine, "default")
    settings = Settings(database_url=url, outbox_dir=tmp_path / "outbox", test_clock=True)
    with TestClient(create_app(settings, engine=engine)) as client:
        headers = {"Authorization": f"Bearer {key}"}
        client.put("/api/v1/test-clock", headers=headers, json={"now": "2026-12-02T10:00:00Z"})
        client.put(
            "/api/v1/customers/c1",
            headers=headers,
            json={"name": "Fern Cafe", "email": "ap@fern.test", "timezone": "UTC"},
        )
        client.put(
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
    engine.dispose()
    environment = {
        **os.environ,
        "POLITELY_DATABASE_URL": url,
        "POLITELY_TEST_CLOCK": "1",
        "POLITELY_OUTBOX_DIR": str(tmp_path / "outbox"),
        "POLITELY_TICK_SECONDS": "5",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not list((tmp_path / "outbox").glob("*.eml")):
            time.sleep(0.2)
    finally:
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=20)
    emails = list((tmp_path / "outbox").glob("*.eml"))
    assert len(emails) == 1, output
    assert worker.returncode == 0, output
