"""HTTP for the organisation's outgoing webhook endpoints."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/webhook-endpoints", tags=["webhooks out"])
