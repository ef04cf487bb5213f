"""create_app(): the API, error handlers and the lifespan that starts the scheduler."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy import Engine

from app import __version__
from app.admin.auth import BadCsrf, NotSignedIn
from app.admin.router import router as admin_router
from app.api.docs import mount_docs
from app.api.router import api_router, test_clock_router
from app.db import get_engine
from app.dunning.policies import policies_from
from app.errors import AppError
from app.idempotency.middleware import install_idempotency
from app.portal.router import router as portal_router
from app.runtime import Runtime
from app.settings import Settings, get_settings


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    run_scheduler: bool = False,
    run_background: bool = False,
) -> FastAPI:
    """`run_background`: start the background jobs (webhook deliveries, and the dunning
    clock when `run_scheduler`); tests leave it off and drive the work themselves."""
    settings = settings or get_settings()
    policies_from(settings.config)  # a broken policy file stops start-up here, with its message
    runtime = Runtime(settings=settings, engine=engine or get_engine())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        background = None
        if run_background:
            from app.background import start_background

            background = start_background(runtime, dunning=run_scheduler)
        yield
        if background is not None:
            background.shutdown(wait=True)
            from app.webhooks.runner import close_shared_client

            await close_shared_client()

    app = FastAPI(
        title="Politely",
        version=__version__,
        description="Invoice reminders that collect the money and keep the customer.",
        lifespan=lifespan,
        docs_url=None,  # served by mount_docs without a CDN
        redoc_url=None,
    )
    mount_docs(app)
    app.state.runtime = runtime
    install_idempotency(app)
    app.include_router(api_router)
    app.include_router(portal_router)
    app.include_router(admin_router)
    if settings.test_clock:
        app.include_router(test_clock_router)

    @app.exception_handler(AppError)
    async def app_error(_: Request, error: AppError) -> JSONResponse:
        return JSONResponse({"detail": error.as_detail()}, status_code=error.status_code)

    @app.exception_handler(NotSignedIn)
    async def not_signed_in(request: Request, _: NotSignedIn) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": "log in first"}, status_code=401)
        target = quote(request.url.path, safe="/")
        return RedirectResponse(f"/admin/login?next={target}", status_code=303)

    @app.exception_handler(BadCsrf)
    async def bad_csrf(request: Request, _: BadCsrf) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": "missing or wrong CSRF token"}, status_code=403)
        return HTMLResponse(
            "<h1>This form has expired</h1><p>Go back, reload the page and "
            "try again. Nothing was changed.</p>",
            status_code=403,
        )

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept
