"""Organisation settings and API keys in the admin pages."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/admin/settings", include_in_schema=False)
