"""Outgoing webhook endpoints and their delivery log in the admin pages."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/admin/webhooks", include_in_schema=False)
