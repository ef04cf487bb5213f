"""Organisations, their settings and API keys; resolving a presented key to its organisation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime

from sqlmodel import Session, col, select

from app.errors import Conflict, NotFound, Unprocessable
from app.organisations.models import ApiKey, Organisation
from app.organisations.schemas import WRITE_ONLY, OrganisationOut, OrganisationPatch, SecretStatus
from app.timeline.service import record_event

DEFAULT_SLUG = "default"
KEY_PREFIX = "pk_"
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def _real_now() -> datetime:
    # Record-keeping timestamps for keys use the real clock, never the test clock.
    return datetime.now(UTC)


def create_organisation(session: Session, *, slug: str, name: str | None = None) -> Organisation:
    if not _SLUG.match(slug):
        raise Unprocessable(
            "slug must be lowercase letters, digits and hyphens (at most 63)", field="slug"
        )
    if session.exec(select(Organisation).where(Organisation.slug == slug)).first():
        raise Conflict(f"organisation {slug!r} already exists", field="slug")
    organisation = Organisation(
        slug=slug,
        name=name or slug,
        created_at=_real_now(),
        inbound_secret=new_secret(),
        payments_webhook_secret=new_webhook_secret(),
    )
    session.add(organisation)
    session.flush()
    return organisation


def new_secret() -> str:
    return "in_" + secrets.token_urlsafe(24)


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: "whsec_" and 24 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def inbound_secret_of(session: Session, organisation: Organisation) -> str:
    """Organisations created before inbound email existed get their secret on first use."""
    if not organisation.inbound_secret:
        organisation.inbound_secret = new_secret()
        session.add(organisation)
        session.flush()
    return organisation.inbound_secret


def ensure_default_organisation(session: Session) -> Organisation:
    existing = session.exec(select(Organisation).where(Organisation.slug == DEFAULT_SLUG)).first()
    return existing or create_organisation(session, slug=DEFAULT_SLUG, name="Default")


def get_organisation_by_slug(session: Session, slug: str) -> Organisation:
    organisation = session.exec(select(Organisation).where(Organisation.slug == slug)).first()
    if organisation is None:
        raise NotFound(f"no organisation {slug!r}")
    return organisation


def _hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(
    session: Session, *, organisation: Organisation, name: str
) -> tuple[ApiKey, str]:
    """Returns the row and the full key; the full key is shown once and never stored."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    assert organisation.id is not None
    row = ApiKey(
        organisation_id=organisation.id,
        name=name,
        prefix=key[: len(KEY_PREFIX) + 8],
        key_hash=_hash_key(key),
        created_at=_real_now(),
    )
    session.add(row)
    session.flush()
    return row, key


def organisation_for_key(session: Session, key: str) -> Organisation | None:
    prefix = key[: len(KEY_PREFIX) + 8]
    candidates = session.exec(
        select(ApiKey).where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))  # type: ignore[union-attr]
    ).all()
    digest = _hash_key(key)
    for candidate in candidates:
        if hmac.compare_digest(candidate.key_hash, digest):
            return session.get(Organisation, candidate.organisation_id)
    return None


# --- settings -------------------------------------------------------------------------------


def _status(secret: str | None) -> SecretStatus:
    return SecretStatus(set=bool(secret), last4=secret[-4:] if secret else None)


def organisation_out(session: Session, organisation: Organisation) -> OrganisationOut:
    """Organisations created before a secret existed get it here, so it can be configured."""
    inbound_secret_of(session, organisation)
    if not organisation.payments_webhook_secret:
        organisation.payments_webhook_secret = new_webhook_secret()
        session.add(organisation)
        session.flush()
    values = organisation.model_dump(exclude=set(WRITE_ONLY))
    return OrganisationOut(
        **values,
        stripe_webhook_secret=_status(organisation.stripe_webhook_secret),
        mailgun_signing_key=_status(organisation.mailgun_signing_key),
    )


def update_organisation(
    session: Session,
    organisation: Organisation,
    patch: OrganisationPatch,
    *,
    now: datetime,
    actor: str,
) -> list[str]:
    """Apply the sent fields and rotations; returns the names of what changed."""
    changed = [
        name for name, value in patch.changes().items() if getattr(organisation, name) != value
    ]
    for name in changed:
        setattr(organisation, name, getattr(patch, name))
    for name in dict.fromkeys(patch.rotate):
        fresh = new_webhook_secret() if name == "payments_webhook_secret" else new_secret()
        setattr(organisation, name, fresh)
        changed.append(name)
    if not changed:
        return changed
    session.add(organisation)
    session.flush()
    assert organisation.id is not None
    # Names only: secret values never go on the timeline or out through webhooks.
    record_event(
        session,
        organisation_id=organisation.id,
        kind="organisation.updated",
        at=now,
        actor=actor,
        data={"fields": changed},
    )
    return changed


# --- API keys ------------------------------------------------------------------------------


def list_api_keys(session: Session, *, organisation_id: int) -> list[ApiKey]:
    statement = (
        select(ApiKey)
        .where(ApiKey.organisation_id == organisation_id)
        .order_by(col(ApiKey.created_at), col(ApiKey.id))
    )
    return list(session.exec(statement).all())


def revoke_api_keys(session: Session, *, organisation_id: int, prefix: str) -> list[ApiKey]:
    """Revokes this organisation's keys with that prefix; NotFound if it has none."""
    keys = [key for key in list_api_keys(session, organisation_id=organisation_id)]
    matching = [key for key in keys if key.prefix == prefix]
    if not matching:
        raise NotFound(f"no API key with prefix {prefix!r} in this organisation", field="prefix")
    for key in matching:
        if key.revoked_at is None:
            key.revoked_at = _real_now()
            session.add(key)
    session.flush()
    return matching


def revoke_api_key_by_id(session: Session, *, organisation_id: int, key_id: int) -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None or key.organisation_id != organisation_id:
        raise NotFound("no such API key")
    if key.revoked_at is None:
        key.revoked_at = _real_now()
        session.add(key)
        session.flush()
    return key
