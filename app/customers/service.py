"""Upserting customers and their contacts."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from app.customers.models import Contact, Customer
from app.customers.schemas import ContactOut, CustomerIn, CustomerOut
from app.dunning.policies import get_policy_set
from app.errors import NotFound, Unprocessable
from app.timeline.service import record_invoice_event


def get_customer(session: Session, *, organisation_id: int, external_id: str) -> Customer:
    customer = session.exec(
        select(Customer).where(
            Customer.organisation_id == organisation_id, Customer.external_id == external_id
        )
    ).first()
    if customer is None:
        raise NotFound(f"no customer {external_id!r}")
    return customer


def contacts_of(session: Session, customer: Customer) -> list[Contact]:
    statement = select(Contact).where(Contact.customer_id == customer.id).order_by(col(Contact.id))
    return list(session.exec(statement).all())


def upsert_customer(
    session: Session, *, organisation_id: int, external_id: str, data: CustomerIn, now: datetime
) -> tuple[Customer, bool]:
    if data.policy is not None and data.policy not in get_policy_set().policies:
        known = ", ".join(get_policy_set().policies)
        raise Unprocessable(f"unknown policy {data.policy!r}; known: {known}", field="policy")
    customer = session.exec(
        select(Customer).where(
            Customer.organisation_id == organisation_id, Customer.external_id == external_id
        )
    ).first()
    created = customer is None
    if customer is None:
        customer = Customer(
            organisation_id=organisation_id,
            external_id=external_id,
            name=data.name,
            created_at=now,
            updated_at=now,
        )
    customer.name = data.name
    customer.locale = data.locale
    customer.timezone = data.timezone
    customer.country = data.country
    customer.policy = data.policy
    customer.tags = list(dict.fromkeys(data.tags))
    customer.updated_at = now
    session.add(customer)
    session.flush()
    _sync_contacts(session, customer, data)
    if not created:
        # Time zone, country or policy may have moved every planned send.
        from app.dunning.plans import refresh_next_action
        from app.invoices.service import open_invoices_of

        reachable = any(contact.deliverable for contact in contacts_of(session, customer))
        for invoice in open_invoices_of(session, customer):
            if reachable and invoice.reminder_state == "unreachable":
                # A working address arrived: the reminders pick up where they stopped.
                invoice.reminder_state = "active"
                record_invoice_event(
                    session,
                    invoice,
                    "invoice.resumed",
                    at=now,
                    actor="api",
                    data={"reason": "a deliverable email address was added"},
                )
            refresh_next_action(session, invoice, now)
    return customer, created


def _sync_contacts(session: Session, customer: Customer, data: CustomerIn) -> None:
    """Match addresses case-insensitively so a bounce or opt-out survives every upsert."""
    wanted = {data.email.lower(): ("to", data.email)}
    for address in data.cc:
        wanted.setdefault(address.lower(), ("cc", address))
    existing = {contact.email.lower(): contact for contact in contacts_of(session, customer)}
    for key, contact in existing.items():
        contact.active = key in wanted
        if key in wanted:
            contact.role, contact.email = wanted[key]
        session.add(contact)
    assert customer.id is not None
    for key, (role, address) in wanted.items():
        if key not in existing:
            session.add(
                Contact(
                    organisation_id=customer.organisation_id,
                    customer_id=customer.id,
                    email=address,
                    role=role,
                )
            )
    session.flush()


def customer_out(session: Session, customer: Customer) -> CustomerOut:
    contacts = [c for c in contacts_of(session, customer) if c.active]
    main = next((c.email for c in contacts if c.role == "to"), None)
    return CustomerOut(
        external_id=customer.external_id,
        name=customer.name,
        email=main,
        cc=[c.email for c in contacts if c.role == "cc"],
        locale=customer.locale,
        timezone=customer.timezone,
        country=customer.country,
        policy=customer.policy,
        tags=customer.tags,
        contacts=[
            ContactOut(
                email=c.email,
                role=c.role,
                bounced=c.bounced_at is not None,
                opted_out=c.opted_out_at is not None,
            )
            for c in contacts
        ],
    )
