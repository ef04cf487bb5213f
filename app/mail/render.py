"""Renders reminder templates (files or admin overrides) in a Jinja sandbox, per locale."""

from __future__ import annotations

import re
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from jinja2 import (
    BaseLoader,
    Environment,
    StrictUndefined,
    TemplateNotFound,
    TemplateSyntaxError,
    UndefinedError,
)
from jinja2 import TemplateError as JinjaTemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from app.mail.context import (
    DEFAULT_LOCALE,
    InvoiceLine,
    ReminderFacts,
    build_reminder_context,
    normalise_locale,
)

Overrides = Callable[[str], str | None]

# Days from the due date and tone of each default step (DESIGN.md section 2).
STEP_OFFSETS: dict[str, tuple[int, str]] = {
    "upcoming": (-3, "friendly"),
    "due_today": (0, "friendly"),
    "overdue_3": (3, "gentle"),
    "overdue_10": (10, "gentle"),
    "overdue_21": (21, "firm"),
    "overdue_31": (31, "firm"),
    "final_notice": (60, "final"),
}
PARTS = ("subject.txt", "txt", "html")

_STEP_KEY = re.compile(r"[a-z0-9_]{1,64}")
# "<locale>/<file>": the only names the loader serves, so no path can leave template_dir.
_TEMPLATE_NAME = re.compile(r"([A-Za-z]{2,3}(?:_[A-Za-z0-9]{1,8})*)/([A-Za-z0-9_][A-Za-z0-9_.-]*)")
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


class TemplateError(ValueError):
    """A template that cannot be used; the message names the template, the line and the reason."""

    def __init__(self, name: str, lineno: int | None, reason: str) -> None:
        self.name = name
        self.lineno = lineno
        self.reason = reason
        where = f"{name}, line {lineno}" if lineno else name
        super().__init__(f"{where}: {reason}")


def locale_chain(locale: str) -> list[str]:
    """Directories to try for a locale, most specific first: de_AT -> de_AT, de, en."""
    parts = locale.split("_")
    chain = ["_".join(parts[:end]) for end in range(len(parts), 0, -1)]
    return chain if DEFAULT_LOCALE in chain else [*chain, DEFAULT_LOCALE]


class _EmailLoader(BaseLoader):
    """Serves "<locale>/<file>", preferring admin overrides, then files, along the locale chain."""

    def __init__(self, template_dir: Path, overrides: Overrides | None) -> None:
        self._root = template_dir
        self._overrides = overrides

    def _resolve(self, template: str) -> tuple[str, str] | None:
        match = _TEMPLATE_NAME.fullmatch(template)
        if match is None or ".." in template:
            return None
        locale, filename = match.groups()
        for candidate in locale_chain(locale):
            name = f"{candidate}/{filename}"
            source = self._overrides(name) if self._overrides else None
            if source is not None:
                return source, name
            path = self._root / candidate / filename
            if path.is_file():
                return path.read_text(encoding="utf-8"), name
        return None

    def get_source(
        self, environment: Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        found = self._resolve(template)
        if found is None:
            raise TemplateNotFound(template)
        source, name = found
        # Re-resolving is cheap next to compiling, and notices edited overrides and files alike.
        return source, name, lambda: self._resolve(template) == found


# An admin's template runs in a shared process: results that would take the memory of the
# whole server (`'x' * 10**11`, `9 ** 10**9`) are refused instead of computed.
MAX_RESULT_LENGTH = 100_000
MAX_EXPONENT = 64


class _EmailEnvironment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset(["*", "**"])

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            if isinstance(right, int | float) and abs(right) > MAX_EXPONENT:
                raise SecurityError(f"the exponent {right} is larger than {MAX_EXPONENT}")
            return left**right
        for sequence, times in ((left, right), (right, left)):
            if isinstance(sequence, str | list | tuple) and isinstance(times, int):
                if len(sequence) * times > MAX_RESULT_LENGTH:
                    raise SecurityError(
                        f"the result would be longer than {MAX_RESULT_LENGTH} characters"
                    )
        return left * right

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        # Refuse at the first unsafe access; the default returns an Undefined, and a chain
        # like `|attr('__class__')|attr('__mro__')` then fails as a vague "undefined".
        raise SecurityError(
            f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe"
        )

    def join_path(self, template: str, parent: str) -> str:
        # `{% extends "_layout.html" %}` means the layout of the including template's locale,
        # which then falls back along the locale chain like any other template.
        if "/" in template:
            return template
        return f"{parent.split('/', 1)[0]}/{template}"


def _autoescape(name: str | None) -> bool:
    return bool(name) and str(name).endswith(".html")


def _innermost_template_line(exc: BaseException) -> tuple[str, int] | None:
    # Jinja rewrites tracebacks so template frames carry the template name and line.
    found = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if _TEMPLATE_NAME.fullmatch(frame.filename) and frame.lineno:
            found = (frame.filename, frame.lineno)
    return found


def _as_template_error(exc: Exception, name: str) -> TemplateError:
    if isinstance(exc, TemplateSyntaxError):
        return TemplateError(
            exc.filename or exc.name or name, exc.lineno, f"syntax error: {exc.message}"
        )
    if isinstance(exc, TemplateNotFound):
        reason = f"template not found: {exc.name}"
    elif isinstance(exc, SecurityError):
        reason = f"not allowed in a template: {exc}"
    elif isinstance(exc, UndefinedError):
        reason = f"undefined variable: {exc}"
    else:
        reason = f"{type(exc).__name__}: {exc}"
    where = _innermost_template_line(exc)
    return TemplateError(where[0] if where else name, where[1] if where else None, reason)


def clean_subject(subject: str) -> str:
    """One line, single spaces, no control characters: a subject is a header."""
    return _CONTROL_CHARS.sub("", " ".join(subject.split()))


def _tidy_text(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)) + "\n"


class TemplateRenderer:
    """Renders `<step>.subject.txt`, `<step>.txt` and `<step>.html` for a locale."""

    def __init__(self, template_dir: Path, overrides: Overrides | None = None) -> None:
        self._template_dir = Path(template_dir)
        self._overrides = overrides
        self._env = self._environment(overrides)

    def _environment(self, overrides: Overrides | None) -> Environment:
        return _EmailEnvironment(
            loader=_EmailLoader(self._template_dir, overrides),
            undefined=StrictUndefined,
            autoescape=_autoescape,
            trim_blocks=True,
            lstrip_blocks=True,
            # An included partial then ends its own last line, as people writing them expect.
            keep_trailing_newline=True,
            auto_reload=True,
        )

    @staticmethod
    def _render_one(env: Environment, name: str, context: Mapping[str, Any]) -> str:
        try:
            return env.get_template(name).render(dict(context))
        except Exception as exc:
            # Admin-edited templates can fail in many ways; all of them must reach the
            # caller as one error type that says where and why.
            raise _as_template_error(exc, name) from exc

    def render(self, step_key: str, locale: str, context: Mapping[str, Any]) -> RenderedEmail:
        if not _STEP_KEY.fullmatch(step_key):
            raise TemplateError(step_key, None, "not a valid step key")
        base = f"{normalise_locale(locale)}/{step_key}"
        subject = clean_subject(self._render_one(self._env, f"{base}.subject.txt", context))
        if not subject:
            raise TemplateError(f"{base}.subject.txt", None, "the subject is empty")
        text = _tidy_text(self._render_one(self._env, f"{base}.txt", context))
        html = self._render_one(self._env, f"{base}.html", context).strip() + "\n"
        return RenderedEmail(subject=subject, text=text, html=html)

    def has_step(self, step_key: str, locale: str) -> bool:
        """Whether a template exists for this step (a policy may name steps with none)."""
        if not _STEP_KEY.fullmatch(step_key):
            return False
        return _exists(self._env, f"{normalise_locale(locale)}/{step_key}.subject.txt")

    def check_source(self, name: str, source: str, context: Mapping[str, Any]) -> None:
        """Compile and render `source` as template `name` (e.g. "en/overdue_3.html")."""
        match = _TEMPLATE_NAME.fullmatch(name)
        if match is None or ".." in name:
            raise TemplateError(name, None, 'a template name looks like "en/overdue_3.html"')

        def with_candidate(candidate: str) -> str | None:
            if candidate == name:
                return source
            return self._overrides(candidate) if self._overrides else None

        env = self._environment(with_candidate)
        locale, filename = match.groups()
        if filename.startswith("_"):
            # A shared layout or partial is only meaningful inside the steps that use it.
            suffix = filename.rsplit(".", 1)[-1]
            users = [f"{locale}/{step}.{suffix}" for step in STEP_OFFSETS]
            names = [name, *(each for each in users if _exists(env, each))]
        else:
            names = [name]
        for each in names:
            output = self._render_one(env, each, context)
            if each.endswith(".subject.txt") and not clean_subject(output):
                raise TemplateError(each, None, "the subject is empty")


def _exists(env: Environment, name: str) -> bool:
    try:
        env.get_template(name)
    except TemplateNotFound:
        return False
    except JinjaTemplateError:
        return True  # exists but broken: rendering it reports the details
    return True


def sample_context(
    step_key: str = "overdue_21", *, locale: str = "en", consolidated: bool = False
) -> dict[str, Any]:
    """A realistic context for previews and template checks, built like a real send."""
    offset, tone = STEP_OFFSETS.get(step_key, (21, "firm"))
    today = date(2025, 3, 24)
    first_due = today - timedelta(days=offset)
    invoices = [
        InvoiceLine(
            number="INV-2025-0042",
            currency="EUR",
            amount_total_minor=148_000,
            amount_due_minor=123_450,
            due_on=first_due,
            pay_link="https://politely.example.com/p/sample-token-0042/pay",
        )
    ]
    if consolidated:
        invoices.append(
            InvoiceLine(
                number="INV-2025-0057",
                currency="EUR",
                amount_total_minor=36_000,
                amount_due_minor=36_000,
                due_on=first_due + timedelta(days=7),
                pay_link="https://politely.example.com/p/sample-token-0057/pay",
            )
        )
    firm = tone in {"firm", "final"}
    facts = ReminderFacts(
        organisation_name="Northwind Joinery Ltd",
        customer_name="Harbour & Finch Café",
        locale=locale,
        step_key=step_key,
        tone=tone,
        invoices=invoices,
        today=today,
        reply_link="https://politely.example.com/p/sample-token-0042/message",
        unsubscribe_link="https://politely.example.com/p/sample-token-0042/unsubscribe",
        late_fee_note=(
            "Invoices paid more than 30 days late carry a late fee of 2% per month, "
            "as set out in the terms agreed when the order was placed."
            if firm
            else None
        ),
        sender_name="Priya Shah, accounts",
        escalation_on=today + timedelta(days=30) if tone == "final" else None,
    )
    return build_reminder_context(facts)
