"""Invoices: the filtered list and one invoice's story, schedule and actions."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/admin/invoices", include_in_schema=False)
