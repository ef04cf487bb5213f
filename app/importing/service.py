"""Importing a CSV of invoices: each row on its own, compared before anything is written.

Rows are committed in chunks, each row inside a savepoint with its customer, so a bad row
never half-imports and a long import never holds the database for long. A row whose
customer and invoice already read exactly as the file says is "unchanged" and writes
nothing, which is why importing the same file twice changes nothing and records no events.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, func, update
from sqlmodel import Session, col, select

from app.customers.models import Contact, Customer
from app.customers.service import upsert_customer
from app.db import session_scope
from app.errors import AppError
from app.importing.csv_file import Row, read_csv
from app.importing.rows import (
    CUSTOMER_COLUMNS,
    INVOICE_COLUMNS,
    RowRejected,
    customer_unchanged,
    invoice_unchanged,
    row_data,
)
from app.invoices.models import Invoice
from app.invoices.service import upsert_invoice
from app.organisations.models import Organisation
from app.organisations.service import get_organisation_by_slug
from app.payments.models import Payment

CHUNK = 200
ACTOR = "import"


@dataclass(frozen=True)
class Rejection:
    line: int
    invoice: str | None
    reasons: list[str]


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[Rejection] = field(default_factory=list)


Progress = Callable[[int, int], None]


def import_invoices(
    engine: Engine,
    *,
    path: Path,
    organisation: str,
    now: datetime,
    progress: Progress | None = None,
) -> ImportReport:
    """Unprocessable (nothing imported) when the file as a whole cannot be read."""
    rows = read_csv(path).rows
    with session_scope(engine) as session:
        organisation_id = get_organisation_by_slug(session, organisation).id
    assert organisation_id is not None
    report = ImportReport(rows=len(rows))
    problems = _file_problems(rows)
    importer = _Importer(organisation_id, now, report)
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        with session_scope(engine) as session:
            importer.run_chunk(session, chunk, problems)
        if progress is not None:
            progress(start + len(chunk), len(rows))
    return report


def _file_problems(rows: Sequence[Row]) -> dict[int, str]:
    """Rows that contradict an earlier row of the same file, by line."""
    problems: dict[int, str] = {}
    invoices: dict[str, int] = {}
    customers: dict[str, tuple[int, tuple[str, ...]]] = {}
    for row in rows:
        if row.problem:
            problems[row.line] = row.problem
            continue
        invoice_id = row.cells.get("invoice_external_id", "")
        customer_id = row.cells.get("customer_external_id", "")
        details = tuple(row.cells.get(column, "") for column in CUSTOMER_COLUMNS.values())
        first_customer = customers.setdefault(customer_id, (row.line, details))
        if not invoice_id or not customer_id:
            continue  # reported as missing when the row is read
        if invoice_id in invoices:
            problems[row.line] = (
                f"invoice_external_id {invoice_id!r} is already on line {invoices[invoice_id]}"
            )
        elif first_customer[1] != details:
            problems[row.line] = (
                f"customer {customer_id!r} has other details on line {first_customer[0]}; "
                "give a customer the same details on every row"
            )
        invoices.setdefault(invoice_id, row.line)
    return problems


def _hold_transaction(session: Session, organisation_id: int) -> None:
    """pysqlite begins a transaction only at the first write, so a SAVEPOINT before one is
    the outermost transaction and its RELEASE a commit: an fsync per row. A write that
    changes nothing opens the chunk's transaction first, and the savepoints nest in it."""
    if session.get_bind().dialect.name != "sqlite":
        return
    if not session.connection().connection.driver_connection.in_transaction:  # type: ignore[union-attr]
        session.execute(
            update(Organisation)
            .where(col(Organisation.id) == organisation_id)
            .values(id=Organisation.id)
        )


@dataclass
class _Loaded:
    """What the rows of one chunk already have in the database, read in four queries."""

    customers: dict[str, Customer]
    contacts: dict[int, list[Contact]]
    invoices: dict[str, Invoice]
    paid: dict[int, int]
    # Held so the session's identity map keeps them (it holds objects only weakly).
    organisation: Organisation | None = None
    written: list[Customer] = field(default_factory=list)


class _Importer:
    def __init__(self, organisation_id: int, now: datetime, report: ImportReport):
        self.organisation_id = organisation_id
        self.now = now
        self.report = report
        # Customers already written or found unchanged in this import: their external id and
        # row id. Every row of a customer carries the same details, so once is enough.
        self.done_customers: dict[str, int] = {}

    def run_chunk(self, session: Session, chunk: Sequence[Row], problems: dict[int, str]) -> None:
        loaded = self._load(session, chunk)
        # Otherwise the planner would read the organisation again for every row.
        loaded.organisation = session.get(Organisation, self.organisation_id)
        for row in chunk:
            invoice_id = row.cells.get("invoice_external_id") or None
            try:
                if row.line in problems:
                    raise RowRejected([problems[row.line]])
                self._row(session, row, loaded)
            except RowRejected as rejected:
                self.report.rejected.append(Rejection(row.line, invoice_id, rejected.reasons))
            except AppError as error:
                column = CUSTOMER_COLUMNS.get(error.field or "") or INVOICE_COLUMNS.get(
                    error.field or "", error.field
                )
                reason = f"{column}: {error.message}" if column else error.message
                self.report.rejected.append(Rejection(row.line, invoice_id, [reason]))

    def _load(self, session: Session, chunk: Sequence[Row]) -> _Loaded:
        customer_ids = {row.cells.get("customer_external_id", "") for row in chunk}
        invoice_ids = {row.cells.get("invoice_external_id", "") for row in chunk}
        customers = session.exec(
            select(Customer).where(
                Customer.organisation_id == self.organisation_id,
                col(Customer.external_id).in_(customer_ids),
            )
        ).all()
        contacts: dict[int, list[Contact]] = defaultdict(list)
        for contact in session.exec(
            select(Contact)
            .where(col(Contact.customer_id).in_([c.id for c in customers]))
            .order_by(col(Contact.id))
        ).all():
            contacts[contact.customer_id].append(contact)
        invoices = session.exec(
            select(Invoice).where(
                Invoice.organisation_id == self.organisation_id,
                col(Invoice.external_id).in_(invoice_ids),
            )
        ).all()
        paid = session.exec(
            select(Payment.invoice_id, func.sum(Payment.amount_minor))
            .where(col(Payment.invoice_id).in_([i.id for i in invoices]))
            .group_by(col(Payment.invoice_id))
        ).all()
        return _Loaded(
            customers={c.external_id: c for c in customers},
            contacts=contacts,
            invoices={i.external_id: i for i in invoices},
            paid={invoice: int(total or 0) for invoice, total in paid},
        )

    def _row(self, session: Session, row: Row, loaded: _Loaded) -> None:
        customer = loaded.customers.get(row.cells.get("customer_external_id", ""))
        invoice = loaded.invoices.get(row.cells.get("invoice_external_id", ""))
        contacts = loaded.contacts.get(customer.id or 0, []) if customer else []
        cc = [c.email for c in contacts if c.active and c.role == "cc"]
        data = row_data(row.cells, customer=customer, cc=cc, invoice=invoice)
        customer_pk = self.done_customers.get(data.customer_id)
        write_customer = customer_pk is None and not customer_unchanged(
            customer, contacts, data.customer
        )
        if customer_pk is None and customer is not None:
            customer_pk = customer.id
        paid = loaded.paid.get(invoice.id or 0, 0) if invoice else 0
        write_invoice = not invoice_unchanged(
            invoice, customer_pk=customer_pk, data=data.invoice, paid_minor=paid
        )
        if not write_customer and not write_invoice:
            assert customer_pk is not None
            self.done_customers[data.customer_id] = customer_pk
            self.report.unchanged += 1
            return
        created = False
        _hold_transaction(session, self.organisation_id)
        with session.begin_nested():  # the row and its customer, or neither
            if write_customer:
                written, _ = upsert_customer(
                    session,
                    organisation_id=self.organisation_id,
                    external_id=data.customer_id,
                    data=data.customer,
                    now=self.now,
                )
                customer_pk = written.id
                loaded.written.append(written)
            if write_invoice:
                _, created = upsert_invoice(
                    session,
                    organisation_id=self.organisation_id,
                    external_id=data.invoice_id,
                    data=data.invoice,
                    now=self.now,
                    actor=ACTOR,
                )
        assert customer_pk is not None
        self.done_customers[data.customer_id] = customer_pk
        if created:
            self.report.created += 1
        else:
            self.report.updated += 1
