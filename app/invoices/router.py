"""HTTP for invoices: upsert, batch, read, schedule, timeline, pause and resume."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Response
from pydantic import ValidationError

from app.api.deps import CurrentOrg, Now, SessionDep, org_id
from app.errors import AppError
from app.invoices.schemas import (
    BatchIn,
    BatchItem,
    BatchOut,
    BatchRowResult,
    EventOut,
    InvoiceIn,
    InvoiceOut,
    PauseIn,
    ScheduleOut,
)
from app.invoices.service import (
    get_invoice,
    invoice_out,
    pause_invoice,
    resume_invoice,
    schedule_out,
    upsert_invoice,
)
from app.timeline.service import invoice_timeline

router = APIRouter(prefix="/invoices", tags=["invoices"])
ExternalId = Path(min_length=1, max_length=200)


@router.post("/batch", response_model=BatchOut)
def batch_upsert(
    data: BatchIn, session: SessionDep, organisation: CurrentOrg, now: Now
) -> BatchOut:
    """Upsert up to 1,000 invoices; each row succeeds or is rejected on its own."""
    results: list[BatchRowResult] = []
    for index, raw in enumerate(data.invoices):
        external_id = raw.get("external_id") if isinstance(raw, dict) else None
        try:
            item = BatchItem.model_validate(raw)
            # upsert_invoice refuses a row before it writes anything, so no savepoint is needed.
            _, created = upsert_invoice(
                session,
                organisation_id=org_id(organisation),
                external_id=item.external_id,
                data=InvoiceIn.model_validate(item.model_dump(exclude={"external_id"})),
                now=now,
                actor="api",
            )
            results.append(
                BatchRowResult(
                    index=index,
                    external_id=item.external_id,
                    result="created" if created else "updated",
                )
            )
        except ValidationError as error:
            errors: list[dict[str, Any]] = [
                {"loc": list(e["loc"]), "msg": e["msg"]} for e in error.errors()
            ]
            results.append(
                BatchRowResult(
                    index=index, external_id=_text(external_id), result="rejected", errors=errors
                )
            )
        except AppError as error:
            results.append(
                BatchRowResult(
                    index=index,
                    external_id=_text(external_id),
                    result="rejected",
                    errors=[{"loc": [error.field] if error.field else [], "msg": error.message}],
                )
            )
    counts = {
        kind: sum(r.result == kind for r in results) for kind in ("created", "updated", "rejected")
    }
    return BatchOut(results=results, **counts)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


@router.put("/{external_id}", response_model=InvoiceOut)
def put_invoice(
    data: InvoiceIn,
    session: SessionDep,
    organisation: CurrentOrg,
    now: Now,
    response: Response,
    external_id: str = ExternalId,
) -> InvoiceOut:
    """Create or update an invoice; reminders are (re)planned at once."""
    invoice, created = upsert_invoice(
        session,
        organisation_id=org_id(organisation),
        external_id=external_id,
        data=data,
        now=now,
        actor="api",
    )
    response.status_code = 201 if created else 200
    return invoice_out(session, invoice)


@router.get("/{external_id}", response_model=InvoiceOut)
def read_invoice(
    session: SessionDep, organisation: CurrentOrg, external_id: str = ExternalId
) -> InvoiceOut:
    invoice = get_invoice(session, organisation_id=org_id(organisation), external_id=external_id)
    return invoice_out(session, invoice)


@router.get("/{external_id}/schedule", response_model=ScheduleOut)
def read_schedule(
    session: SessionDep, organisation: CurrentOrg, now: Now, external_id: str = ExternalId
) -> ScheduleOut:
    """Every future step with its send time, if nothing changes (a simulation)."""
    invoice = get_invoice(session, organisation_id=org_id(organisation), external_id=external_id)
    return schedule_out(session, invoice, now)


@router.get("/{external_id}/timeline", response_model=list[EventOut])
def read_timeline(
    session: SessionDep, organisation: CurrentOrg, external_id: str = ExternalId
) -> list[EventOut]:
    invoice = get_invoice(session, organisation_id=org_id(organisation), external_id=external_id)
    assert invoice.id is not None
    events = invoice_timeline(session, organisation_id=org_id(organisation), invoice_id=invoice.id)
    return [EventOut(kind=e.kind, at=e.at, actor=e.actor, data=e.data) for e in events]


@router.post("/{external_id}/pause", response_model=InvoiceOut)
def pause(
    data: PauseIn,
    session: SessionDep,
    organisation: CurrentOrg,
    now: Now,
    external_id: str = ExternalId,
) -> InvoiceOut:
    invoice = get_invoice(session, organisation_id=org_id(organisation), external_id=external_id)
    return invoice_out(
        session, pause_invoice(session, invoice=invoice, data=data, now=now, actor="api")
    )


@router.post("/{external_id}/resume", response_model=InvoiceOut)
def resume(
    session: SessionDep, organisation: CurrentOrg, now: Now, external_id: str = ExternalId
) -> InvoiceOut:
    invoice = get_invoice(session, organisation_id=org_id(organisation), external_id=external_id)
    return invoice_out(session, resume_invoice(session, invoice=invoice, now=now, actor="api"))
