"""Turning foreign rich text into exambank's plain text, and back for writers."""

from __future__ import annotations

import html
import posixpath
import re
from html.parser import HTMLParser

# Elements that start a new line of their own; ``<br>`` is handled apart because two of them
# in a row mean an intended blank line, while two nested blocks do not.
BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "center", "dd", "div", "dl", "dt", "figcaption",
        "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "ol", "p", "pre",
        "section", "table", "tbody", "thead", "tfoot", "tr", "ul",
    }
)  # fmt: skip
CELL_TAGS = frozenset({"td", "th"})
HIDDEN_TAGS = frozenset({"script", "style", "head", "title"})

_WHITESPACE = re.compile(r"\s+")
_BLANK_LINES = re.compile(r"\n{3,}")
# Characters XML 1.0 cannot carry at all; a writer drops them rather than emit a broken file.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class TextBuilder:
    """Collects text runs and line breaks, then yields tidy lines."""

    def __init__(self) -> None:
        self._parts: list[str] = []

    def add(self, data: str) -> None:
        """Add running text; source newlines are layout, not content, so they become spaces."""
        if data:
            self._parts.append(_WHITESPACE.sub(" ", data))

    def line_break(self) -> None:
        """An explicit ``<br>``: always a new line."""
        self._parts.append("\n")

    def block_break(self) -> None:
        """A block boundary: a new line unless we are already at the start of one."""
        for part in reversed(self._parts):
            tail = part.rstrip(" ")
            if tail:
                if not tail.endswith("\n"):
                    self._parts.append("\n")
                return

    def result(self) -> str:
        """The text with each line trimmed and at most one blank line in a row."""
        return tidy_lines("".join(self._parts))


def tidy_lines(text: str) -> str:
    """Normalise line endings, collapse spaces inside lines and drop surplus blank lines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = [_WHITESPACE.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip("\n")


def plain_text(text: str) -> str:
    """Clean text that is meant literally (Aiken, ``[plain]`` GIFT, Moodle ``plain_text``)."""
    return tidy_lines(text)


class _HtmlToText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.builder = TextBuilder()
        self.images: list[str] = []
        self._hidden_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in HIDDEN_TAGS:
            self._hidden_depth += 1
        elif tag == "br":
            self.builder.line_break()
        elif tag == "img":
            self.images.append(dict(attrs).get("src") or "")
        elif tag in BLOCK_TAGS:
            self.builder.block_break()
        elif tag in CELL_TAGS:
            self.builder.add(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # A self-closed hidden tag has no content, so it must not open a hidden region.
        if tag not in HIDDEN_TAGS:
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in HIDDEN_TAGS:
            self._hidden_depth = max(0, self._hidden_depth - 1)
        elif tag in BLOCK_TAGS:
            self.builder.block_break()

    def handle_data(self, data: str) -> None:
        if not self._hidden_depth:
            self.builder.add(data)


def html_to_text(markup: str) -> tuple[str, list[str]]:
    """Strip tags and entities from HTML; return the text and the ``src`` of every ``<img>``."""
    parser = _HtmlToText()
    parser.feed(markup)
    parser.close()
    return parser.builder.result(), parser.images


def auto_format_to_text(markup: str) -> tuple[str, list[str]]:
    """Moodle's auto format: HTML allowed, and a source newline is a real line break."""
    return html_to_text(markup.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "<br>"))


def text_to_html(text: str) -> str:
    """Escape plain text for an HTML field, keeping its line breaks as ``<br>``."""
    return html.escape(text, quote=False).replace("\n", "<br>")


def xml_escape(text: str) -> str:
    """Escape text or an attribute value for XML, dropping characters XML cannot hold."""
    return html.escape(_XML_ILLEGAL.sub("", text), quote=True)


def xml_clean(text: str) -> str:
    """Drop characters XML 1.0 cannot hold."""
    return _XML_ILLEGAL.sub("", text)


def one_line(text: str, limit: int | None = None) -> str:
    """The text on a single line, shortened to ``limit`` characters when given."""
    line = _WHITESPACE.sub(" ", text).strip()
    if limit is not None and len(line) > limit:
        return line[: limit - 1].rstrip() + "…"
    return line


def file_name_of(src: str) -> str:
    """The last path part of an image ``src`` or file name, for messages."""
    src = src.replace("@@PLUGINFILE@@/", "").split("?", 1)[0]
    return posixpath.basename(src.rstrip("/")) or src or "(unnamed)"
