"""Dependencies named once: the session, the calling organisation, the clock, the runtime."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from app.db import get_session
from app.organisations.models import Organisation
from app.organisations.service import organisation_for_key
from app.runtime import Runtime

# Committed when the handler returns, before the response leaves: a client that reads
# right after a write sees it, and a failed commit is an error, not a lost 200.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
_bearer = HTTPBearer(auto_error=False, description="an API key from `politely keys create`")


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_current_organisation(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Organisation:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            401, "send an API key as 'Authorization: Bearer <key>'", {"WWW-Authenticate": "Bearer"}
        )
    organisation = organisation_for_key(session, credentials.credentials)
    if organisation is None:
        raise HTTPException(401, "unknown or revoked API key", {"WWW-Authenticate": "Bearer"})
    return organisation


CurrentOrg = Annotated[Organisation, Depends(get_current_organisation)]


def get_now(runtime: RuntimeDep) -> datetime:
    return runtime.clock.now()


Now = Annotated[datetime, Depends(get_now)]


def org_id(organisation: Organisation) -> int:
    assert organisation.id is not None
    return organisation.id
