"""Importing invoices from CSV: what is created, what is refused and why, and re-imports."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from app.errors import Unprocessable
from app.importing.service import ImportReport, import_invoices
from tests.conftest import CUSTOMER, Api, invoice_body

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "examples" / "invoices.csv"
NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
HEADER = (
    "customer_external_id,customer_name,customer_email,invoice_external_id,number,currency,"
    "amount_total,due_on"
)


def _import(db: Engine, tmp_path: Path, text: str | bytes, **kw: object) -> ImportReport:
    path = tmp_path / "upload.csv"
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return import_invoices(db, path=path, organisation="default", now=NOW, **kw)  # type: ignore[arg-type]


def _counts(report: ImportReport) -> tuple[int, int, int, int]:
    return report.created, report.updated, report.unchanged, len(report.rejected)


def _timelines(api: Api, invoices: list[str]) -> dict[str, list[object]]:
    return {invoice: api.get(f"/invoices/{invoice}/timeline").json() for invoice in invoices}


def test_the_sample_file_imports_and_importing_it_again_changes_nothing(
    api: Api, db: Engine
) -> None:
    api.set_clock(NOW)
    first = import_invoices(db, path=SAMPLE, organisation="default", now=NOW)
    assert _counts(first) == (4, 0, 0, 0)
    invoice = api.get("/invoices/inv-1002").json()
    assert invoice["amount_total"] == "310.40" and invoice["amount_due"] == "110.40"
    assert invoice["customer"] == "bakery" and invoice["reminders"]["next"] is not None
    tanaka = api.get("/customers/tanaka").json()
    assert tanaka["cc"] == ["finance@tanaka.example", "ceo@tanaka.example"]
    assert tanaka["timezone"] == "Asia/Tokyo" and tanaka["locale"] == "ja_JP"
    assert api.get("/invoices/inv-1004").json()["amount_total"] == "48000"
    assert api.get("/customers/fern").json()["name"] == "Fern Café"
    ids = ["inv-1001", "inv-1002", "inv-1003", "inv-1004"]
    before = (_timelines(api, ids), [api.get(f"/invoices/{i}").json() for i in ids])
    second = import_invoices(db, path=SAMPLE, organisation="default", now=NOW)
    assert _counts(second) == (0, 0, 4, 0)
    assert (_timelines(api, ids), [api.get(f"/invoices/{i}").json() for i in ids]) == before


def test_a_changed_row_is_updated_and_the_rest_left_alone(
    api: Api, db: Engine, tmp_path: Path
) -> None:
    text = SAMPLE.read_text(encoding="utf-8")
    _import(db, tmp_path, text)
    changed = text.replace("inv-1003,INV-1003,EUR,89.90", "inv-1003,INV-1003,EUR,99.90")
    report = _import(db, tmp_path, changed)
    assert _counts(report) == (0, 1, 3, 0)
    assert api.get("/invoices/inv-1003").json()["amount_due"] == "99.90"


def test_bad_rows_are_reported_by_line_and_reason_and_the_good_ones_imported(
    api: Api, db: Engine, tmp_path: Path
) -> None:
    text = (
        f"{HEADER},customer_policy,issued_on\n"
        "c1,Ada,ada@example.test,i1,N-1,EUR,10.00,2026-12-01,,\n"  # line 2
        "c2,Bob,not-an-email,i2,N-2,EUR,10,2026-12-01,,\n"  # line 3
        '"c3","Multi\nline",c3@example.test,i3,N-3,EUR,10,2026-12-01,,\n'  # lines 4-5
        "c4,Cy,cy@example.test,i4,N-4,EURO,12.345,31/12/2026,,\n"  # line 6
        "c5,Di,di@example.test,i5,N-5,EUR,10,2026-12-01,,2026-12-05\n"  # line 7
        "c6,Ed,ed@example.test,i6,N-6,EUR,10,2026-12-01,vip_only,\n"  # line 8
        "\n"
        "c7,Flo,flo@example.test,i7,N-7,EUR,1.5,2026-12-01,,\n"  # line 10
        ",Gus,gus@example.test,i8,N-8,EUR,10,2026-12-01,,\n"  # line 11
        "c1,Ada,ada@example.test,i1,N-1b,EUR,10.00,2026-12-01,,\n"  # line 12
        "c1,Ada Lovelace,ada@example.test,i9,N-9,EUR,10.00,2026-12-01,,\n"  # line 13
        "c9,Hal,hal@example.test,i10,N-10,EUR,10.00,2026-12-01,,,extra\n"  # line 14
    )
    report = _import(db, tmp_path, text)
    assert _counts(report) == (2, 0, 0, 9)
    reasons = {r.line: (r.invoice, " | ".join(r.reasons)) for r in report.rejected}
    assert reasons[3][0] == "i2" and "customer_email:" in reasons[3][1]
    assert reasons[4][0] == "i3" and "customer_name:" in reasons[4][1]
    assert "currency:" in reasons[6][1] and "due_on:" in reasons[6][1]
    assert "due_on: must not be before issued_on" in reasons[7][1]
    assert "customer_policy: unknown policy 'vip_only'" in reasons[8][1]
    assert "customer_external_id: is required" in reasons[11][1]
    assert "'i1' is already on line 2" in reasons[12][1]
    assert "customer 'c1' has other details on line 2" in reasons[13][1]
    assert "has 11 cells but the header names 10 columns" in reasons[14][1]
    assert api.get("/invoices/i7").json()["amount_total"] == "1.50"
    for refused in ("c2", "c3", "c4", "c5", "c6"):
        assert api.get(f"/customers/{refused}").status_code == 404  # no half-import
    assert api.get("/invoices/i9").status_code == 404
    assert api.get("/invoices/i1").json()["number"] == "N-1"


def test_a_row_refused_after_its_customer_was_written_leaves_the_customer_as_it_was(
    api: Api, db: Engine, tmp_path: Path
) -> None:
    api.set_clock(NOW)
    api.put("/customers/bakery", CUSTOMER)
    api.put("/invoices/inv-1", invoice_body(number="INV-1", currency="GBP"))
    payment = {"external_id": "p1", "amount": "50.00", "paid_at": "2026-11-01T10:00:00Z"}
    assert api.post("/invoices/inv-1/payments", payment).status_code == 201
    text = (
        f"{HEADER}\n"
        "bakery,Harbour Street Bakery Ltd,accounts@harbour-bakery.test,inv-1,INV-1,EUR,"
        "1250.00,2026-12-01\n"
    )
    report = _import(db, tmp_path, text)
    assert _counts(report) == (0, 0, 0, 1)
    assert (
        "currency: currency cannot change once payments are recorded"
        in (report.rejected[0].reasons[0])
    )
    customer = api.get("/customers/bakery").json()
    assert customer["name"] == "Harbour Street Bakery"  # the savepoint took it back
    assert customer["cc"] == ["owner@harbour-bakery.test"]


def test_columns_left_out_keep_what_politely_has(api: Api, db: Engine, tmp_path: Path) -> None:
    api.set_clock(NOW)
    api.put("/customers/bakery", {**CUSTOMER, "policy": "standard", "tags": ["wholesale"]})
    api.put("/invoices/paid-elsewhere", invoice_body(number="P-1", amount_due="0.00"))
    api.put("/invoices/voided", invoice_body(number="V-1", status="void"))
    text = (
        f"{HEADER}\n"
        "bakery,Harbour Street Bakery,accounts@harbour-bakery.test,paid-elsewhere,P-1,GBP,"
        "1250.00,2026-12-01\n"
        "bakery,Harbour Street Bakery,accounts@harbour-bakery.test,voided,V-1,GBP,"
        "1250.00,2026-12-01\n"
    )
    before = _timelines(api, ["paid-elsewhere", "voided"])
    report = _import(db, tmp_path, text)
    assert _counts(report) == (0, 0, 2, 0)
    assert _timelines(api, ["paid-elsewhere", "voided"]) == before
    assert api.get("/invoices/paid-elsewhere").json()["status"] == "paid"
    assert api.get("/invoices/voided").json()["status"] == "void"
    customer = api.get("/customers/bakery").json()
    assert customer["policy"] == "standard" and customer["tags"] == ["wholesale"]
    assert customer["cc"] == ["owner@harbour-bakery.test"]
    # A column that is there but empty does clear it.
    cleared = _import(db, tmp_path, text.replace(HEADER, HEADER + ",customer_cc") + "")
    assert cleared.rejected == [] and api.get("/customers/bakery").json()["cc"] == []


def test_bom_semicolons_and_windows_line_ends_are_read(
    api: Api, db: Engine, tmp_path: Path
) -> None:
    text = (
        HEADER.replace(",", ";") + ";amount_due\r\n"
        "müller;Müller GmbH;ap@mueller.example;m-1;M-1;EUR;100,00;2026-12-01;\r\n"
        "müller;Müller GmbH;ap@mueller.example;m-2;M-2;EUR;100.00;2026-12-01;40.00\r\n"
    )
    report = _import(db, tmp_path, b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert _counts(report) == (1, 0, 0, 1)
    assert report.rejected[0].line == 2 and "amount_total:" in report.rejected[0].reasons[0]
    assert api.get("/customers/müller").json()["name"] == "Müller GmbH"
    assert api.get("/invoices/m-2").json()["amount_due"] == "40.00"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (HEADER.replace(",due_on", "").encode(), "missing required column(s): due_on"),
        ((HEADER + ",amount_totl").encode(), "unknown column(s) 'amount_totl'"),
        ((HEADER + ",number").encode(), "column(s) named twice: number"),
        (
            (HEADER + "\nc1,Caf\xe9,c@example.test,i1,N,EUR,1,2026-12-01\n").encode("latin-1"),
            "not UTF-8 (first bad byte on line 2)",
        ),
    ],
)
def test_a_file_that_cannot_be_read_imports_nothing(
    api: Api, db: Engine, tmp_path: Path, content: bytes, message: str
) -> None:
    with pytest.raises(Unprocessable, match=message.replace("(", r"\(").replace(")", r"\)")):
        _import(db, tmp_path, content)
    assert api.get("/customers/c1").status_code == 404


# --- the command line --------------------------------------------------------------------


def _politely(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "POLITELY_DATABASE_URL": f"sqlite:///{tmp_path / 'politely.db'}",
        "POLITELY_OUTBOX_DIR": str(tmp_path / "outbox"),
    }
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=600,
        check=False,
        cwd=ROOT,
    )


def test_the_command_prints_a_summary_and_exits_1_on_rejected_rows(tmp_path: Path) -> None:
    done = _politely(tmp_path, "import", "invoices", str(SAMPLE), "--org", "default")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == ("4 rows: 4 created, 0 updated, 0 unchanged, 0 rejected")
    assert "importing [" in done.stderr and "4/4 rows" in done.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text(f"{HEADER}\nc1,Ada,ada@example.test,i1,N-1,EUR,ten,2026-12-01\n")
    refused = _politely(tmp_path, "import", "invoices", str(bad), "--org", "default")
    assert refused.returncode == 1
    assert "line 2 (invoice i1): amount_total:" in refused.stdout
    missing = _politely(
        tmp_path, "import", "invoices", str(tmp_path / "nope.csv"), "--org", "default"
    )
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    unknown = _politely(tmp_path, "import", "invoices", str(SAMPLE), "--org", "acme")
    assert unknown.returncode == 2 and "no organisation 'acme'" in unknown.stderr


def test_ten_thousand_rows_import_report_their_bad_rows_and_reimport_unchanged(
    tmp_path: Path,
) -> None:
    """The "done when" of the issue, through the command an operator runs (SQLite)."""
    path = tmp_path / "big.csv"
    lines = [HEADER + ",issued_on,customer_timezone"]
    for i in range(10_000):
        amount = "12,50" if i % 2500 == 1234 else f"{100 + i % 900}.25"
        lines.append(
            f"c{i // 4},Customer {i // 4},ap{i // 4}@example.test,inv-{i},N-{i:05d},EUR,"
            f"{amount},2026-12-{1 + i % 28:02d},2026-10-01,Europe/Paris"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    started = time.monotonic()
    first = _politely(tmp_path, "import", "invoices", str(path), "--org", "default")
    took = time.monotonic() - started
    assert first.returncode == 1, first.stderr
    out = first.stdout.splitlines()
    assert "10000 rows: 9996 created, 0 updated, 0 unchanged, 4 rejected" in out
    assert [line.split(" ")[1] for line in out if line.startswith("line ")] == [
        "1236",
        "3736",
        "6236",
        "8736",
    ]
    assert took < 300, f"the first import took {took:.0f} s"
    events = _count_events(tmp_path)
    second = _politely(tmp_path, "import", "invoices", str(path), "--org", "default")
    assert "10000 rows: 0 created, 0 updated, 9996 unchanged, 4 rejected" in second.stdout
    assert _count_events(tmp_path) == events == 9996


def _count_events(tmp_path: Path) -> int:
    with sqlite3.connect(tmp_path / "politely.db") as connection:
        return int(connection.execute("SELECT count(*) FROM event").fetchone()[0])
