"""The worklist: everything that needs a person, most urgent first."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/admin/worklist", include_in_schema=False)
