"""Plain text from an HTML body: tags dropped, entities unescaped, blocks as line breaks."""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser

from app.replies.inbound.model import MAX_HTML_CHARS

_BLOCKS = {
    "address", "article", "aside", "blockquote", "body", "br", "center", "dd", "div", "dl", "dt",
    "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
    "header", "hr", "html", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tbody",
    "tfoot", "thead", "tr", "ul",
}  # fmt: skip
_PARAGRAPHS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "blockquote"}
_INVISIBLE = {"script", "style", "title", "template", "noscript"}
_CELLS = {"td", "th"}
_VOID = {"br", "hr"}


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self._current: list[str] = []
        self._current_depth = 0
        self._quote_depth = 0
        self._hidden = 0
        self._pre = 0

    def _break(self, blank_after: bool = False, empty_line: bool = False) -> None:
        line = "".join(self._current).strip(" ") if not self._pre else "".join(self._current)
        self._current = []
        if line.strip():
            # Quoted history in HTML is a <blockquote>; marking it the way plain-text clients do
            # lets the same quote stripping work on both kinds of body.
            self.lines.append("> " * self._current_depth + line)
        elif empty_line:
            blank_after = True
        if blank_after and self.lines and self.lines[-1] != "":
            self.lines.append("")

    def finish(self) -> list[str]:
        self.close()
        self._break()
        return self.lines

    def _write(self, text: str) -> None:
        if not self._current or not "".join(self._current).strip():
            self._current_depth = self._quote_depth
        self._current.append(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _INVISIBLE:
            self._hidden += 1
        elif tag in _BLOCKS:
            self._break(empty_line=tag == "br")
            if tag == "blockquote":
                self._quote_depth += 1
            elif tag == "pre":
                self._pre += 1
        elif tag in _CELLS and self._current:
            self._write(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCKS:
            self._break(empty_line=tag == "br")

    def handle_endtag(self, tag: str) -> None:
        if tag in _INVISIBLE:
            self._hidden = max(0, self._hidden - 1)
        elif tag in _BLOCKS and tag not in _VOID:
            self._break(blank_after=tag in _PARAGRAPHS)
            if tag == "blockquote":
                self._quote_depth = max(0, self._quote_depth - 1)
            elif tag == "pre":
                self._pre = max(0, self._pre - 1)

    def handle_data(self, data: str) -> None:
        if self._hidden:
            return
        if self._pre:
            first, *rest = data.split("\n")
            self._write(first)
            for piece in rest:
                self._break(empty_line=True)
                self._write(piece)
            return
        collapsed = re.sub(r"\s+", " ", data)
        if collapsed.strip() or self._current:
            self._write(collapsed)


def html_to_text(html: str) -> str:
    """Readable text of an HTML body; never raises."""
    source = html[:MAX_HTML_CHARS]
    extractor = _TextExtractor()
    try:
        extractor.feed(source)
        lines = extractor.finish()
    except Exception:  # malformed markup still has readable words
        lines = unescape(re.sub(r"<[^>]*>", " ", source)).splitlines()
    return "\n".join(line.rstrip() for line in lines).strip("\n")
