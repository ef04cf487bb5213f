"""From a signed link to the customer (and invoice) it opens, or a refusal that changes nothing."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from app.customers.models import Customer
from app.invoices.models import Invoice
from app.links import InvalidLink, LinkClaims, verify_link
from app.organisations.models import Organisation


class LinkRefused(Exception):
    """The link cannot be used; `expired` picks the wording and the status (410 vs 404)."""

    def __init__(self, reason: str, *, expired: bool = False):
        super().__init__(reason)
        self.expired = expired


@dataclass
class PortalAccess:
    organisation: Organisation
    customer: Customer
    invoice: Invoice | None  # the invoice the link was sent about, if any
    claims: LinkClaims

    def open_invoices(self, session: Session) -> list[Invoice]:
        statement = select(Invoice).where(
            Invoice.customer_id == self.customer.id,
            Invoice.organisation_id == self.organisation.id,
            Invoice.status == "open",
            Invoice.amount_due_minor > 0,
        )
        return list(session.exec(statement.order_by(col(Invoice.due_on))).all())

    def invoice_by_external_id(self, session: Session, external_id: str | None) -> Invoice:
        """Only this customer's invoices; anything else is refused like a bad link."""
        if not external_id:
            if self.invoice is None:
                raise LinkRefused("no invoice chosen")
            return self.invoice
        invoice = session.exec(
            select(Invoice).where(
                Invoice.external_id == external_id,
                Invoice.customer_id == self.customer.id,
                Invoice.organisation_id == self.organisation.id,
            )
        ).first()
        if invoice is None:
            raise LinkRefused("invoice is not this customer's")
        return invoice


def open_link(session: Session, secret: str, token: str, *, purpose: str) -> PortalAccess:
    try:
        claims = verify_link(secret, token, purpose=purpose)
    except InvalidLink as error:
        raise LinkRefused(str(error), expired="expired" in str(error)) from None
    organisation = session.get(Organisation, claims.organisation_id)
    customer = session.get(Customer, claims.customer_id)
    if organisation is None or customer is None or customer.organisation_id != organisation.id:
        raise LinkRefused("customer not found")
    invoice = None
    if claims.invoice_id is not None:
        invoice = session.get(Invoice, claims.invoice_id)
        if invoice is None or invoice.customer_id != customer.id:
            raise LinkRefused("invoice not found")
    return PortalAccess(
        organisation=organisation, customer=customer, invoice=invoice, claims=claims
    )
