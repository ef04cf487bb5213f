"""HTTP for payment webhooks in: Stripe and the generic Standard Webhooks form."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/webhooks", tags=["webhooks in"])
