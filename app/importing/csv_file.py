"""Reading an invoice CSV: encoding, delimiter, header checks and the line of every row."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from app.errors import Unprocessable

REQUIRED = (
    "customer_external_id",
    "customer_name",
    "customer_email",
    "invoice_external_id",
    "number",
    "currency",
    "amount_total",
    "due_on",
)
OPTIONAL = (
    "amount_due",
    "issued_on",
    "payment_url",
    "status",
    "customer_cc",
    "customer_locale",
    "customer_timezone",
    "customer_country",
    "customer_policy",
    "customer_tags",
)
COLUMNS = REQUIRED + OPTIONAL
# Spreadsheets in many countries save "CSV" with semicolons; tabs come from copy and paste.
DELIMITERS = (",", ";", "\t")


@dataclass(frozen=True)
class Row:
    line: int  # where the row starts in the file (the header is line 1)
    cells: dict[str, str]  # every column of the header, stripped; missing cells are ""
    problem: str | None = None  # a row the CSV itself makes unusable


@dataclass(frozen=True)
class CsvFile:
    columns: tuple[str, ...]  # the named columns, in the file's order
    rows: list[Row]


def decode(data: bytes) -> str:
    """UTF-8 with or without a byte order mark; anything else names the first bad line."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise Unprocessable(
            f"the file is not UTF-8 (first bad byte on line {line}); "
            'save it as "CSV UTF-8" and import it again'
        ) from None


def _delimiter(header_line: str) -> str:
    return max(DELIMITERS, key=lambda candidate: header_line.count(candidate))


def read_csv(path: Path) -> CsvFile:
    try:
        text = decode(path.read_bytes())
    except OSError as error:
        raise Unprocessable(f"cannot read {path}: {error.strerror or error}") from None
    first_line = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first_line))
    try:
        header = next(reader)
    except StopIteration:
        raise Unprocessable("the file is empty; the first line must name the columns") from None
    except csv.Error as error:
        raise Unprocessable(f"line 1: {error}") from None
    columns = tuple(name.strip().lower() for name in header)
    _check_header(columns)
    rows: list[Row] = []
    line = reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            raise Unprocessable(f"line {line}: {error}") from None
        rows.extend(_row(line, columns, cells))
        line = reader.line_num + 1
    return CsvFile(columns=tuple(name for name in columns if name), rows=rows)


def _row(line: int, columns: tuple[str, ...], cells: list[str]) -> list[Row]:
    values = [cell.strip() for cell in cells]
    if not any(values):
        return []  # blank lines (or a row of empty cells) are not rows
    problem = None
    padded = values + [""] * (len(columns) - len(values))
    if len(values) > len(columns) and any(values[len(columns) :]):
        problem = f"has {len(values)} cells but the header names {len(columns)} columns"
    elif any(value for name, value in zip(columns, padded, strict=False) if not name):
        problem = "has a value in a column without a name in the header"
    named = {name: value for name, value in zip(columns, padded, strict=False) if name}
    return [Row(line=line, cells=named, problem=problem)]


def _check_header(columns: tuple[str, ...]) -> None:
    # Unnamed columns (a trailing delimiter, as spreadsheets often write) are ignored.
    unknown = [name for name in columns if name and name not in COLUMNS]
    if unknown:
        names = ", ".join(repr(name) for name in unknown)
        raise Unprocessable(
            f"line 1: unknown column(s) {names}; the columns are: {', '.join(COLUMNS)}"
        )
    repeated = sorted({name for name in columns if name and columns.count(name) > 1})
    if repeated:
        raise Unprocessable(f"line 1: column(s) named twice: {', '.join(repeated)}")
    missing = [name for name in REQUIRED if name not in columns]
    if missing:
        raise Unprocessable(f"line 1: missing required column(s): {', '.join(missing)}")
