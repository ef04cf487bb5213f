"""HTTP for the calling organisation: GET and PATCH /organisation."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["organisation"])
