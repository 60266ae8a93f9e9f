"""Parsing untrusted XML: every parse goes through defusedxml."""

from __future__ import annotations

from typing import TYPE_CHECKING

import defusedxml
import defusedxml.ElementTree as SafeET

from app.bank.interchange._common import FileRejected

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element  # type hints only; parsing uses defusedxml


def parse_xml(content: bytes) -> Element:
    """Parse an uploaded XML document, refusing entity declarations and external references."""
    if not content.strip():
        raise FileRejected("文件为空")
    try:
        root: Element = SafeET.fromstring(content)
    except defusedxml.DefusedXmlException as exc:
        raise FileRejected("XML 中声明了实体或外部引用，出于安全考虑已拒绝") from exc
    except SafeET.ParseError as exc:
        line, column = exc.position
        raise FileRejected(f"文件不是格式正确的 XML（第 {line} 行第 {column + 1} 列）") from exc
    return root


def local_name(element: Element) -> str:
    """The tag without its ``{namespace}``; comments and processing instructions give ``""``."""
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]
