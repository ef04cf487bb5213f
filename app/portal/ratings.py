"""A customer's 1-5 rating of how they were treated while the invoice was open."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from app.invoices.models import Invoice
from app.notices.models import Rating
from app.timeline.service import record_invoice_event


def record_rating(
    session: Session, invoice: Invoice, *, score: int, comment: str, now: datetime
) -> Rating:
    """One rating per invoice; rating again replaces the earlier answer."""
    rating = session.exec(select(Rating).where(Rating.invoice_id == invoice.id)).first()
    assert invoice.id is not None
    if rating is None:
        rating = Rating(
            organisation_id=invoice.organisation_id,
            customer_id=invoice.customer_id,
            invoice_id=invoice.id,
            score=score,
            rated_at=now,
        )
    rating.score, rating.comment, rating.rated_at = score, comment or None, now
    session.add(rating)
    record_invoice_event(
        session,
        invoice,
        "rating.received",
        at=now,
        actor="customer",
        data={"score": score, "comment": comment},
    )
    return rating
