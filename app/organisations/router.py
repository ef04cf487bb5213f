"""HTTP for the calling organisation: GET and PATCH /organisation."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import CurrentOrg, Now, SessionDep
from app.organisations.schemas import OrganisationOut, OrganisationPatch
from app.organisations.service import organisation_out, update_organisation

router = APIRouter(tags=["organisation"])


@router.get("/organisation", response_model=OrganisationOut)
def read_organisation(session: SessionDep, organisation: CurrentOrg) -> OrganisationOut:
    """Sender identity, branding, defaults and integration secrets. The secrets Politely
    generates are shown in full; the ones you pasted in show only their last 4 characters."""
    return organisation_out(session, organisation)


@router.patch("/organisation", response_model=OrganisationOut)
def patch_organisation(
    data: OrganisationPatch, session: SessionDep, organisation: CurrentOrg, now: Now
) -> OrganisationOut:
    """Change only the fields sent (null clears an optional one); `rotate` replaces the
    generated `payments_webhook_secret` and/or `inbound_secret` at once."""
    update_organisation(session, organisation, data, now=now, actor="api")
    return organisation_out(session, organisation)
