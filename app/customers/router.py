"""HTTP for customers."""

from __future__ import annotations

from fastapi import APIRouter, Path, Response

from app.api.deps import CurrentOrg, Now, SessionDep, org_id
from app.customers.schemas import CustomerIn, CustomerOut
from app.customers.service import customer_out, get_customer, upsert_customer

router = APIRouter(prefix="/customers", tags=["customers"])
ExternalId = Path(min_length=1, max_length=200)


@router.put("/{external_id}", response_model=CustomerOut)
def put_customer(
    data: CustomerIn,
    session: SessionDep,
    organisation: CurrentOrg,
    now: Now,
    response: Response,
    external_id: str = ExternalId,
) -> CustomerOut:
    """Create or update a customer; contacts keep their bounce and opt-out status."""
    customer, created = upsert_customer(
        session, organisation_id=org_id(organisation), external_id=external_id, data=data, now=now
    )
    response.status_code = 201 if created else 200
    return customer_out(session, customer)


@router.get("/{external_id}", response_model=CustomerOut)
def read_customer(
    session: SessionDep, organisation: CurrentOrg, external_id: str = ExternalId
) -> CustomerOut:
    customer = get_customer(session, organisation_id=org_id(organisation), external_id=external_id)
    return customer_out(session, customer)
