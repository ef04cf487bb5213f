"""One CSV row as the API's CustomerIn and InvoiceIn, and whether it would change anything.

A column left out of the file keeps what Politely already has; an empty cell in a column
that is there means "none" (or the API's default). `amount_due` left out keeps the amount
still due while the total is unchanged, so an old export never reopens a paid invoice.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

from app import money
from app.customers.models import Contact, Customer
from app.customers.schemas import CustomerIn
from app.invoices.models import Invoice
from app.invoices.schemas import InvoiceIn
from app.validation import plain_text

# CustomerIn's fields and the columns they come from; the rest of InvoiceIn's are the same.
CUSTOMER_COLUMNS = {
    "name": "customer_name",
    "email": "customer_email",
    "cc": "customer_cc",
    "locale": "customer_locale",
    "timezone": "customer_timezone",
    "country": "customer_country",
    "policy": "customer_policy",
    "tags": "customer_tags",
}
INVOICE_COLUMNS = {"customer": "customer_external_id"}
INVOICE_FIELDS = (
    "number",
    "currency",
    "amount_total",
    "amount_due",
    "issued_on",
    "due_on",
    "payment_url",
    "status",
)
LISTS = ("cc", "tags")  # semicolon-separated in one cell


class RowRejected(Exception):
    def __init__(self, reasons: list[str]):
        super().__init__("; ".join(reasons))
        self.reasons = reasons


@dataclass(frozen=True)
class RowData:
    customer_id: str
    customer: CustomerIn
    invoice_id: str
    invoice: InvoiceIn


def _split(cell: str) -> list[str]:
    return [part.strip() for part in cell.split(";") if part.strip()]


def external_id(cells: dict[str, str], column: str) -> str:
    value = cells.get(column, "")
    if not value:
        raise RowRejected([f"{column}: is required"])
    if len(value) > 200:
        raise RowRejected([f"{column}: must be at most 200 characters"])
    try:
        return plain_text(value)
    except ValueError as error:
        raise RowRejected([f"{column}: {error}"]) from None


def _customer_values(cells: dict[str, str], existing: Customer | None, cc: list[str]) -> dict:
    values: dict[str, object] = {}
    for field, column in CUSTOMER_COLUMNS.items():
        if column in cells:
            cell = cells[column]
            values[field] = _split(cell) if field in LISTS else (cell or None)
        elif existing is not None:
            values[field] = cc if field == "cc" else getattr(existing, field)
    return values


def _invoice_values(cells: dict[str, str], existing: Invoice | None, customer_id: str) -> dict:
    values: dict[str, object] = {"customer": customer_id}
    for field in INVOICE_FIELDS:
        if field in cells:
            values[field] = cells[field] or None
        elif existing is not None and field in ("issued_on", "payment_url"):
            values[field] = getattr(existing, field)
    if values.get("status") is None:
        kept = existing.status if existing is not None and "status" not in cells else "open"
        values["status"] = kept if kept in ("void", "written_off") else "open"
    if "amount_due" not in cells and existing is not None:
        values["amount_due"] = _due_kept(existing, cells)
    return values


def _due_kept(existing: Invoice, cells: dict[str, str]) -> str | None:
    """The stored amount due, while the currency and total in the file are unchanged."""
    try:
        same = cells["currency"].upper() == existing.currency and (
            money.to_minor(cells["amount_total"], existing.currency) == existing.amount_total_minor
        )
    except (ValueError, ArithmeticError):
        return None
    if not same:
        return None
    return money.to_decimal_string(existing.amount_due_minor, existing.currency)


def _reasons(error: ValidationError, columns: dict[str, str]) -> list[str]:
    reasons = []
    for item in error.errors():
        field = str(item["loc"][0]) if item["loc"] else ""
        message = str(item["msg"]).removeprefix("Value error, ")
        reasons.append(f"{columns.get(field, field)}: {message}")
    return reasons


def row_data(
    cells: dict[str, str],
    *,
    customer: Customer | None,
    cc: list[str],
    invoice: Invoice | None,
) -> RowData:
    """Validated exactly as the API validates; RowRejected lists every problem at once."""
    customer_id = external_id(cells, "customer_external_id")
    invoice_id = external_id(cells, "invoice_external_id")
    reasons: list[str] = []
    customer_in = invoice_in = None
    try:
        customer_in = CustomerIn.model_validate(_customer_values(cells, customer, cc))
    except ValidationError as error:
        reasons += _reasons(error, CUSTOMER_COLUMNS)
    try:
        invoice_in = InvoiceIn.model_validate(_invoice_values(cells, invoice, customer_id))
    except ValidationError as error:
        reasons += _reasons(error, INVOICE_COLUMNS)
    if customer_in is None or invoice_in is None:
        raise RowRejected(reasons)
    return RowData(customer_id, customer_in, invoice_id, invoice_in)


def wanted_contacts(data: CustomerIn) -> set[tuple[str, str]]:
    """The (role, address) pairs upsert_customer keeps active, the main address first."""
    wanted = {data.email.lower(): ("to", data.email)}
    for address in data.cc:
        wanted.setdefault(address.lower(), ("cc", address))
    return set(wanted.values())


def customer_unchanged(
    customer: Customer | None, contacts: list[Contact], data: CustomerIn
) -> bool:
    if customer is None:
        return False
    active = {(contact.role, contact.email) for contact in contacts if contact.active}
    return (
        customer.name == data.name
        and customer.locale == data.locale
        and customer.timezone == data.timezone
        and customer.country == data.country
        and customer.policy == data.policy
        and customer.tags == list(dict.fromkeys(data.tags))
        and active == wanted_contacts(data)
    )


def invoice_unchanged(
    invoice: Invoice | None, *, customer_pk: int | None, data: InvoiceIn, paid_minor: int
) -> bool:
    """What upsert_invoice would store, compared with what is stored."""
    if invoice is None or customer_pk is None:
        return False
    total = money.to_minor(data.amount_total, data.currency)
    outstanding = max(total - paid_minor, 0)
    due = outstanding
    if data.amount_due is not None:
        due = min(money.to_minor(data.amount_due, data.currency), outstanding)
    status = "paid" if data.status == "open" and due == 0 else data.status
    return (
        invoice.customer_id == customer_pk
        and invoice.number == data.number
        and invoice.currency == data.currency
        and invoice.amount_total_minor == total
        and invoice.amount_due_minor == due
        and invoice.issued_on == data.issued_on
        and invoice.due_on == data.due_on
        and invoice.payment_url == data.payment_url
        and invoice.status == status
    )
