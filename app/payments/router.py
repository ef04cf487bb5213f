"""HTTP for payments."""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Path, Response

from app import money
from app.api.deps import CurrentOrg, Now, RuntimeDep, SessionDep, org_id
from app.invoices.service import get_invoice, invoice_out
from app.payments.schemas import PaymentIn, PaymentOut
from app.payments.service import record_payment

router = APIRouter(prefix="/invoices", tags=["payments"])


@router.post("/{external_id}/payments", response_model=PaymentOut)
def post_payment(
    data: PaymentIn,
    background: BackgroundTasks,
    runtime: RuntimeDep,
    session: SessionDep,
    organisation: CurrentOrg,
    now: Now,
    response: Response,
    external_id: str = Path(min_length=1, max_length=200),
) -> PaymentOut:
    """Record a payment; repeating the same payment external_id changes nothing."""
    invoice = get_invoice(session, organisation_id=org_id(organisation), external_id=external_id)
    payment, created = record_payment(session, invoice=invoice, data=data, now=now, actor="api")
    response.status_code = 201 if created else 200
    if created:  # a thank-you may be queued; it is sent after this response, not inside it
        background.add_task(runtime.send_notices_blocking)
    fresh = get_invoice(session, organisation_id=org_id(organisation), external_id=external_id)
    return PaymentOut(
        external_id=payment.external_id,
        amount=money.to_decimal_string(payment.amount_minor, payment.currency),
        currency=payment.currency,
        paid_at=payment.paid_at,
        created=created,
        invoice=invoice_out(session, fresh),
    )
