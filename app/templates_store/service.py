"""Saving, listing, rolling back and resetting template versions; the renderer's overrides."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.errors import NotFound, Unprocessable
from app.mail.render import TemplateError, TemplateRenderer, sample_context
from app.templates_store.models import TemplateVersion

PARTS = (("subject", "subject.txt"), ("text", "txt"), ("html", "html"))


def latest(
    session: Session, organisation_id: int, locale: str, step: str
) -> TemplateVersion | None:
    return session.exec(
        select(TemplateVersion)
        .where(
            TemplateVersion.organisation_id == organisation_id,
            TemplateVersion.locale == locale,
            TemplateVersion.step == step,
        )
        .order_by(col(TemplateVersion.version).desc())
    ).first()


def history(
    session: Session, organisation_id: int, locale: str, step: str
) -> list[TemplateVersion]:
    return list(
        session.exec(
            select(TemplateVersion)
            .where(
                TemplateVersion.organisation_id == organisation_id,
                TemplateVersion.locale == locale,
                TemplateVersion.step == step,
            )
            .order_by(col(TemplateVersion.version).desc())
        ).all()
    )


def overrides_for(session: Session, organisation_id: int) -> Callable[[str], str | None]:
    """The newest saved source of every edited template, as the renderer asks for it."""
    newest = (
        select(
            TemplateVersion.locale,
            TemplateVersion.step,
            func.max(TemplateVersion.version).label("version"),
        )
        .where(TemplateVersion.organisation_id == organisation_id)
        .group_by(col(TemplateVersion.locale), col(TemplateVersion.step))
        .subquery()
    )
    rows = session.exec(
        select(TemplateVersion)
        .join(
            newest,
            (col(TemplateVersion.locale) == newest.c.locale)
            & (col(TemplateVersion.step) == newest.c.step)
            & (col(TemplateVersion.version) == newest.c.version),
        )
        .where(TemplateVersion.organisation_id == organisation_id)
    ).all()
    sources: dict[str, str] = {}
    for row in rows:
        if row.is_default:
            continue
        for attribute, suffix in PARTS:
            sources[f"{row.locale}/{row.step}.{suffix}"] = getattr(row, attribute) or ""
    return sources.get


def renderer_for(session: Session, templates_dir: Path, organisation_id: int) -> TemplateRenderer:
    return TemplateRenderer(templates_dir, overrides_for(session, organisation_id))


def check_draft(
    renderer: TemplateRenderer, *, locale: str, step: str, sources: dict[str, str]
) -> None:
    """Compile and render each part on one invoice and on several; TemplateError says where."""
    for attribute, suffix in PARTS:
        name = f"{locale}/{step}.{suffix}"
        for consolidated in (False, True):
            context = sample_context(step, locale=locale, consolidated=consolidated)
            renderer.check_source(name, sources[attribute], context)


def save_version(
    session: Session,
    *,
    templates_dir: Path,
    organisation_id: int,
    locale: str,
    step: str,
    subject: str,
    text: str,
    html: str,
    author: str,
    now: datetime,
    note: str | None = None,
) -> TemplateVersion:
    sources = {"subject": subject, "text": text, "html": html}
    try:
        check_draft(
            renderer_for(session, templates_dir, organisation_id),
            locale=locale,
            step=step,
            sources=sources,
        )
    except TemplateError as error:
        raise Unprocessable(str(error), field="template") from None
    return _add(session, organisation_id, locale, step, dict(sources), author, now, note)


def _add(
    session: Session,
    organisation_id: int,
    locale: str,
    step: str,
    sources: Mapping[str, str | None],
    author: str,
    now: datetime,
    note: str | None,
) -> TemplateVersion:
    current = latest(session, organisation_id, locale, step)
    version = TemplateVersion(
        organisation_id=organisation_id,
        locale=locale,
        step=step,
        version=(current.version + 1) if current else 1,
        author=author,
        note=note,
        created_at=now,
        subject=sources["subject"],
        text=sources["text"],
        html=sources["html"],
    )
    session.add(version)
    session.flush()
    return version


def rollback_to(
    session: Session, *, organisation_id: int, version_id: int, author: str, now: datetime
) -> TemplateVersion:
    old = session.get(TemplateVersion, version_id)
    if old is None or old.organisation_id != organisation_id:
        raise NotFound("no such template version")
    sources = {"subject": old.subject, "text": old.text, "html": old.html}
    return _add(
        session,
        organisation_id,
        old.locale,
        old.step,
        sources,
        author,
        now,
        f"rolled back to version {old.version}",
    )


def reset_to_default(
    session: Session, *, organisation_id: int, locale: str, step: str, author: str, now: datetime
) -> TemplateVersion:
    sources: dict[str, str | None] = {"subject": None, "text": None, "html": None}
    return _add(
        session, organisation_id, locale, step, sources, author, now, "reset to the shipped default"
    )


def file_sources(templates_dir: Path, locale: str, step: str) -> dict[str, str]:
    """The shipped files, what a step says until someone edits it."""
    folder = templates_dir / locale if (templates_dir / locale).is_dir() else templates_dir / "en"
    return {
        attribute: (folder / f"{step}.{suffix}").read_text(encoding="utf-8")
        for attribute, suffix in PARTS
    }


def sources_of(
    templates_dir: Path, version: TemplateVersion | None, locale: str, step: str
) -> dict[str, str]:
    if version is None or version.is_default:
        return file_sources(templates_dir, locale, step)
    return {
        "subject": version.subject or "",
        "text": version.text or "",
        "html": version.html or "",
    }


def diff(previous: dict[str, str], current: dict[str, str]) -> str:
    lines: list[str] = []
    for attribute, _ in PARTS:
        lines += difflib.unified_diff(
            previous[attribute].splitlines(),
            current[attribute].splitlines(),
            fromfile=f"{attribute} (before)",
            tofile=f"{attribute} (after)",
            lineterm="",
        )
    return "\n".join(lines)
