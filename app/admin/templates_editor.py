"""The template editor: edit, preview, save (checked in the sandbox), history, rollback."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/admin/templates", include_in_schema=False)
