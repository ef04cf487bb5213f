"""The /api/v1 router: every domain's routes, plus the organisation and the test clock."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, field_validator

from app.api.deps import CurrentOrg, RuntimeDep
from app.clock import DatabaseTestClock
from app.customers.router import router as customers_router
from app.dunning.router import router as scheduler_router
from app.invoices.router import router as invoices_router
from app.organisations.router import router as organisation_router
from app.payments.router import router as payments_router
from app.replies.router import router as inbound_router
from app.webhooks.endpoints_router import router as endpoints_router
from app.webhooks.inbound_router import router as webhooks_in_router

api_router = APIRouter(prefix="/api/v1")
api_router.include_router(customers_router)
api_router.include_router(invoices_router)
api_router.include_router(payments_router)
api_router.include_router(scheduler_router)
api_router.include_router(inbound_router)
api_router.include_router(webhooks_in_router)
api_router.include_router(endpoints_router)
api_router.include_router(organisation_router)


class TestClockIn(BaseModel):
    now: datetime

    @field_validator("now")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("give a time zone offset, e.g. 2026-12-01T09:00:00Z")
        return value


class TestClockOut(BaseModel):
    now: datetime


test_clock_router = APIRouter(prefix="/api/v1", tags=["test clock"])


@test_clock_router.put("/test-clock", response_model=TestClockOut)
def set_test_clock(data: TestClockIn, runtime: RuntimeDep, _: CurrentOrg) -> TestClockOut:
    """Move business time (POLITELY_TEST_CLOCK=1 only). It affects every organisation."""
    clock = runtime.clock
    if not isinstance(clock, DatabaseTestClock):
        raise HTTPException(404, "the test clock is off; start with POLITELY_TEST_CLOCK=1")
    return TestClockOut(now=clock.set(data.now))


@test_clock_router.get("/test-clock", response_model=TestClockOut)
def read_test_clock(runtime: RuntimeDep, _: CurrentOrg) -> TestClockOut:
    return TestClockOut(now=runtime.clock.now())
