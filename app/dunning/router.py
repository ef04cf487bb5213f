"""HTTP for the scheduler: run one dunning pass now."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from app.api.deps import CurrentOrg, RuntimeDep

router = APIRouter(prefix="/scheduler", tags=["scheduler"])


class OutcomeOut(BaseModel):
    invoice: str
    customer: str
    step: str | None
    result: str
    message_id: str | None
    detail: str | None


class PassOut(BaseModel):
    started_at: datetime
    sent: int
    outcomes: list[OutcomeOut]


@router.post("/run", response_model=PassOut)
async def run_pass(runtime: RuntimeDep, organisation: CurrentOrg) -> PassOut:
    """Run one dunning pass now. The pass runs off the request's event loop, as the tick does,
    and covers every organisation; the answer lists only the caller's invoices."""
    report = await run_in_threadpool(runtime.run_pass_blocking)
    mine = [o for o in report.outcomes if o.organisation_id == organisation.id]
    return PassOut(
        started_at=report.started_at,
        sent=sum(o.result == "sent" for o in mine),
        outcomes=[OutcomeOut(**o.public()) for o in mine],
    )
