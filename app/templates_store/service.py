"""Saving, listing, rolling back and resetting template versions; the renderer's overrides."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.dunning.messages import TONE_TEMPLATES
from app.dunning.policies import get_policy_set
from app.dunning.preview import SAMPLE_FACTS, SPECIAL_STEPS, special_extra
from app.errors import NotFound, Unprocessable
from app.mail.render import (
    RenderedEmail,
    TemplateError,
    TemplateRenderer,
    locale_chain,
    sample_context,
)
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
            # A special email needs its own values, or every one of them looks broken.
            context.update(special_extra(step, SAMPLE_FACTS, locale))
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


# --- the editor's view of the templates -------------------------------------------------------


@dataclass(frozen=True)
class EditableStep:
    key: str
    about: str
    tone: str
    # The shipped template it starts from: its own files, else those of its tone.
    shipped: str


def _when(offset_days: int) -> str:
    if offset_days == 0:
        return "on the due date"
    days = f"{abs(offset_days)} day{'s' if abs(offset_days) != 1 else ''}"
    return f"{days} {'before' if offset_days < 0 else 'after'} the due date"


def editable_steps(templates_dir: Path) -> list[EditableStep]:
    """Every email step of the policies in force, then the special emails."""
    found: dict[str, tuple[int, str, list[str]]] = {}
    for policy in get_policy_set().policies.values():
        for step in policy.steps:
            if step.sends_email:
                found.setdefault(step.key, (step.offset_days, step.tone, []))[2].append(policy.name)
    steps = []
    for key, (offset, tone, policies) in sorted(found.items(), key=lambda item: item[1][0]):
        own = (templates_dir / "en" / f"{key}.subject.txt").is_file()
        about = f"Reminder {_when(offset)}, {tone} tone (policies: {', '.join(policies)})"
        steps.append(EditableStep(key, about, tone, key if own else TONE_TEMPLATES[tone]))
    steps += [
        EditableStep(key, about, tone, key) for key, (about, tone, _) in SPECIAL_STEPS.items()
    ]
    return steps


def editable_step(templates_dir: Path, key: str) -> EditableStep | None:
    return next((step for step in editable_steps(templates_dir) if step.key == key), None)


def shipped_sources(templates_dir: Path, locale: str, step: EditableStep) -> dict[str, str]:
    """The files the renderer falls back to for this step and locale."""
    for name in dict.fromkeys([step.key, step.shipped]):
        for candidate in locale_chain(locale):
            folder = templates_dir / candidate
            if (folder / f"{name}.subject.txt").is_file():
                return {
                    attribute: (folder / f"{name}.{suffix}").read_text(encoding="utf-8")
                    for attribute, suffix in PARTS
                }
    raise NotFound(f"no shipped template for {step.key}")


def version_sources(
    templates_dir: Path, version: TemplateVersion | None, locale: str, step: EditableStep
) -> dict[str, str]:
    if version is None or version.is_default:
        return shipped_sources(templates_dir, locale, step)
    return {attribute: getattr(version, attribute) or "" for attribute, _ in PARTS}


def newest_versions(
    session: Session, organisation_id: int
) -> dict[tuple[str, str], TemplateVersion]:
    """The newest version of every (locale, step) this organisation has saved."""
    rows = session.exec(
        select(TemplateVersion)
        .where(TemplateVersion.organisation_id == organisation_id)
        .order_by(col(TemplateVersion.version))
    ).all()
    return {(row.locale, row.step): row for row in rows}


def find_version(
    session: Session, *, organisation_id: int, version_id: int, locale: str, step: str
) -> TemplateVersion:
    """One version of this step, only if it belongs to this organisation."""
    version = session.get(TemplateVersion, version_id)
    if version is None or version.organisation_id != organisation_id:
        raise NotFound("no such template version")
    if (version.locale, version.step) != (locale, step):
        raise NotFound("no such template version")
    return version


def diff_with_previous(
    session: Session, templates_dir: Path, version: TemplateVersion, step: EditableStep
) -> str:
    """What this version changed; the first one is compared with the shipped files."""
    previous = session.exec(
        select(TemplateVersion)
        .where(
            TemplateVersion.organisation_id == version.organisation_id,
            TemplateVersion.locale == version.locale,
            TemplateVersion.step == version.step,
            TemplateVersion.version < version.version,
        )
        .order_by(col(TemplateVersion.version).desc())
    ).first()
    before = version_sources(templates_dir, previous, version.locale, step)
    return diff(before, version_sources(templates_dir, version, version.locale, step))


def render_draft(
    session: Session,
    *,
    templates_dir: Path,
    organisation_id: int,
    locale: str,
    step: str,
    sources: dict[str, str],
    context: Mapping[str, Any],
) -> RenderedEmail:
    """Check a draft as a save would, then render it on `context`; nothing is stored."""
    saved = overrides_for(session, organisation_id)
    check_draft(TemplateRenderer(templates_dir, saved), locale=locale, step=step, sources=sources)
    draft = {f"{locale}/{step}.{suffix}": sources[attribute] for attribute, suffix in PARTS}
    renderer = TemplateRenderer(templates_dir, lambda name: draft.get(name, saved(name)))
    return renderer.render(step, locale, context)
