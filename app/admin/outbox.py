"""The development outbox: every email that went out, as the customer sees it."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/admin/outbox", include_in_schema=False)
