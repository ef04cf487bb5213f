"""Separates what the person wrote from the quoted history and signature below it."""

from __future__ import annotations

import re

# "On <date>, <name> wrote:" and its translations; a digit (the date) must appear somewhere so
# that a sentence like "On second thought, here is what he wrote:" is not taken for one.
_ATTRIBUTIONS = [
    re.compile(r"^on\b.+\bwrote\s*:$", re.IGNORECASE),
    re.compile(r"^am\b.+\bschrieb\b.*:$", re.IGNORECASE),
    re.compile(r"^le\b.+\ba\s+écrit\s*:$", re.IGNORECASE),
    re.compile(r"^el\b.+\bescribió\b.*:$", re.IGNORECASE),
    re.compile(r"^op\b.+\bschreef\b.*:$", re.IGNORECASE),
    re.compile(r"^il\b.+\bha\s+scritto\s*:$", re.IGNORECASE),
    re.compile(r"^em\b.+\bescreveu\s*:$", re.IGNORECASE),
]
_ORIGINAL_MESSAGE = re.compile(
    r"^-{2,}\s*(original message|ursprüngliche nachricht|message d'origine|mensaje original"
    r"|oorspronkelijk bericht|messaggio originale)\s*-{2,}$",
    re.IGNORECASE,
)
_SEPARATOR = re.compile(r"^_{10,}$")
_MAX_ATTRIBUTION = 300


def _label(*names: str) -> re.Pattern[str]:
    # Outlook writes "From: x" in plain text and "*From:* x" when it converts its own HTML.
    return re.compile(rf"^\*?\s*({'|'.join(names)})\s*:\s*\*?(\s|$)", re.IGNORECASE)


_FROM = _label("from", "von", "de", "van", "da")
_SENT = _label("sent", "date", "gesendet", "datum", "envoyé", "enviado", "enviado el", "fecha",
               "verzonden", "inviato", "data")  # fmt: skip
_TO_OR_SUBJECT = _label("to", "an", "à", "a", "para", "aan", "cc", "subject", "betreff",
                        "objet", "asunto", "onderwerp", "oggetto")  # fmt: skip


def _is_quoted(line: str) -> bool:
    return line.lstrip().startswith(">")


def _next_filled(lines: list[str], start: int) -> int:
    index = start
    while index < len(lines) and not lines[index].strip():
        index += 1
    return index


def _attribution_length(lines: list[str], index: int) -> int:
    """1 or 2 when an attribution line (possibly wrapped over two lines) starts here, else 0."""
    first = lines[index].strip()
    candidates = [first]
    # A wrapped attribution breaks mid-phrase; a first line ending a sentence is the person's own.
    if (
        index + 1 < len(lines)
        and lines[index + 1].strip()
        and not _is_quoted(lines[index + 1])
        and not first.endswith((".", "!", "?"))
    ):
        candidates.append(f"{first} {lines[index + 1].strip()}")
    for length, candidate in enumerate(candidates, start=1):
        if len(candidate) > _MAX_ATTRIBUTION or not re.search(r"\d", candidate):
            continue
        if any(pattern.match(candidate) for pattern in _ATTRIBUTIONS):
            return length
    return 0


def _is_header_block(lines: list[str], index: int) -> bool:
    """An Outlook-style "From: / Sent: / To: / Subject:" block of the quoted message starts here."""
    if not _FROM.match(lines[index].strip()):
        return False
    following = [line.strip() for line in lines[index + 1 : index + 8] if line.strip()][:5]
    has_sent = any(_SENT.match(line) for line in following)
    has_rest = any(_TO_OR_SUBJECT.match(line) for line in following)
    return has_sent and has_rest


def _starts_history(lines: list[str], index: int) -> bool:
    line = lines[index].strip()
    if _ORIGINAL_MESSAGE.match(line) or _is_header_block(lines, index):
        return True
    if _SEPARATOR.match(line):
        after = _next_filled(lines, index + 1)
        return after < len(lines) and bool(_FROM.match(lines[after].strip()))
    return False


def _written_lines(lines: list[str]) -> list[str]:
    kept: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if _is_quoted(line):
            index += 1
            continue
        length = _attribution_length(lines, index)
        if length:
            after = _next_filled(lines, index + length)
            if after < len(lines) and _is_quoted(lines[after]):
                # The history is marked with ">": drop it line by line and keep whatever the
                # person wrote below or between the quotes (bottom-posting, inline answers).
                index += length
                continue
            break  # unmarked history: everything from here on is the old message
        if _starts_history(lines, index):
            break
        kept.append(line)
        index += 1
    return kept


def _without_signature(lines: list[str]) -> list[str]:
    wrote_something = False
    for index, line in enumerate(lines):
        if line.rstrip() == "--" and wrote_something:
            return lines[:index]
        wrote_something = wrote_something or bool(line.strip())
    return lines


def _trimmed(lines: list[str]) -> str:
    return "\n".join(line.rstrip() for line in lines).strip("\n")


def strip_quoted(text: str) -> str:
    """What the person wrote above the quoted history, without the signature; never "" while the
    input has any unquoted text."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    written = _written_lines(lines)
    for candidate in (_without_signature(written), written):
        result = _trimmed(candidate)
        if result.strip():
            return result
    # Nothing above the history (e.g. sent without typing): keep the unquoted text rather than
    # losing a message that might matter.
    return _trimmed([line for line in lines if not _is_quoted(line)]).strip()
