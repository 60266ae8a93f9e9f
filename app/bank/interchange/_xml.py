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
        raise FileRejected(
            f"the XML declares entities or external references, which are refused for safety ({exc})"
        ) from exc
    except SafeET.ParseError as exc:
        raise FileRejected(f"文件不是格式正确的 XML（{exc}）") from exc
    return root


def local_name(element: Element) -> str:
    """The tag without its ``{namespace}``; comments and processing instructions give ``""``."""
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]
