"""The dashboard: receivables, ageing, DSO, CEI, reply and promise rates, ratings."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.admin.auth import AdminDep
from app.admin.pages import render

router = APIRouter(prefix="/admin/dashboard", include_in_schema=False)


@router.get("", response_class=HTMLResponse)
def dashboard(request: Request, admin: AdminDep) -> HTMLResponse:
    return render(request, admin, "dashboard.html")
