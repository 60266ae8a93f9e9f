"""IMS QTI: choice items in QTI 2.1/2.2 and 3.0, single files or zipped content packages.

QTI 2.x names elements in camelCase (``choiceInteraction``) and QTI 3.0 in kebab case with a
``qti-`` prefix (``qti-choice-interaction``); the reader maps both onto the 2.x names so one
code path reads either version.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from app.bank.interchange._common import (
    JUDGE_AS_CHOICE,
    OPTION_KEYS,
    Extras,
    FileRejected,
    Outcome,
    choice_item,
    collect,
    judge_truth,
    media_warnings,
    rejected_file,
    unsupported,
    written_options,
)
from app.bank.interchange._text import BLOCK_TAGS, CELL_TAGS, HIDDEN_TAGS, TextBuilder, one_line, xml_escape
from app.bank.interchange._xml import local_name, parse_xml
from app.bank.interchange._zip import SafeZip, resolve_href
from app.bank.interchange.base import InterchangeResult, ItemError, QuestionDict, SkippedItem

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element  # type hints only; parsing uses defusedxml

QTI3_NAMESPACE = "http://www.imsglobal.org/xsd/imsqtiasi_v3p0"
QTI3_SCHEMA = "https://purl.imsglobal.org/spec/qti/v3p0/schema/xsd/imsqti_asiv3p0_v1p0.xsd"
CP_NAMESPACE = "http://www.imsglobal.org/xsd/qti/qtiv3p0/imscp_v1p1"
CP_SCHEMA = "https://purl.imsglobal.org/spec/qti/v3p0/schema/xsd/imsqtiv3p0_imscpv1p2_v1p0.xsd"
MANIFEST = "imsmanifest.xml"
_XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"

# Feedback and templates are shown conditionally, so they are not part of the question text.
_NOT_QUESTION_TEXT = frozenset(
    {"feedbackInline", "feedbackBlock", "modalFeedback", "templateInline", "templateBlock", "rubricBlock"}
)
_QTI_BLOCKS = BLOCK_TAGS | {"prompt", "itemBody", "choiceInteraction", "simpleChoice", "contentBody"}
_EXPLANATION_IDS = frozenset({"EXPLANATION", "SOLUTION"})
_KEBAB_PART = re.compile(r"-([a-z])")
_IDENTIFIER_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def _name(element: Element) -> str:
    """The QTI 2.x spelling of an element name: ``qti-simple-choice`` → ``simpleChoice``."""
    name = local_name(element)
    if name.startswith("qti-"):
        return _KEBAB_PART.sub(lambda match: match.group(1).upper(), name[4:])
    return name


def _attr(element: Element, camel_name: str) -> str | None:
    """An attribute in either spelling: ``responseIdentifier`` or ``response-identifier``."""
    value = element.get(camel_name)
    if value is None:
        value = element.get(re.sub(r"([A-Z])", lambda match: "-" + match.group(1).lower(), camel_name))
    return value


def _children(element: Element, name: str) -> list[Element]:
    return [child for child in element if _name(child) == name]


def _descendants(element: Element, name: str) -> list[Element]:
    return [node for node in element.iter() if _name(node) == name]


# ---------------------------------------------------------------------------------------- text


class _FlowText:
    """Plain text of QTI (X)HTML content, noting images and leaving out feedback."""

    def __init__(self, skip: Callable[[Element], bool]) -> None:
        self.builder = TextBuilder()
        self.images: list[str] = []
        self._skip = skip

    def walk(self, element: Element) -> None:
        name = _name(element)
        is_block = name in _QTI_BLOCKS
        if is_block:
            self.builder.block_break()
        if name == "br":
            self.builder.line_break()
        elif name == "img":
            self.images.append(element.get("src") or "")
        elif name == "object":
            self.images.append(element.get("data") or "")
        elif name == "math":
            self.builder.add(f" {_math_text(element)} ")
        elif name not in HIDDEN_TAGS:
            self._walk_content(element, name)
        if is_block:
            self.builder.block_break()

    def _walk_content(self, element: Element, name: str) -> None:
        if name in CELL_TAGS:
            self.builder.add(" ")
        self.builder.add(element.text or "")
        for child in element:
            if not self._skip(child):
                self.walk(child)
            self.builder.add(child.tail or "")


def _math_text(math: Element) -> str:
    # MathML is kept as its TeX annotation when there is one: far more readable than the tokens.
    alt = math.get("alttext")
    if alt:
        return alt.strip()
    for annotation in _descendants(math, "annotation"):
        if annotation.text and annotation.text.strip():
            return annotation.text.strip()
    return "".join(math.itertext())


def _text_of(element: Element, skip: Callable[[Element], bool]) -> tuple[str, list[str]]:
    flow = _FlowText(skip)
    flow.walk(element)
    return flow.builder.result(), flow.images


def _is_feedback(element: Element) -> bool:
    return _name(element) in _NOT_QUESTION_TEXT


# ---------------------------------------------------------------------------------------- reading


def read_qti(content: bytes) -> InterchangeResult:
    """Read one QTI 2.1/2.2/3.0 ``assessmentItem`` file into exambank items."""
    try:
        root = parse_xml(content)
    except FileRejected as exc:
        return rejected_file(exc.message)
    if _name(root) != "assessmentItem":
        return rejected_file(
            f"不是 QTI 题目：根元素是 <{local_name(root)}>，"
            "而不是 <assessmentItem>（QTI 2.x）或 <qti-assessment-item>（QTI 3.0）"
        )
    return collect([_read_item(1, root)])


def _read_item(row: int, root: Element) -> Outcome:
    bodies = _children(root, "itemBody")
    if not bodies:
        return ItemError(row, "stem", "题目缺少 itemBody")
    body = bodies[0]
    interactions = [node for node in body.iter() if _name(node).endswith("Interaction")]
    if not interactions:
        return unsupported(row, "description")
    if len(interactions) > 1:
        count = len(interactions)
        return SkippedItem(row, f"不支持含 {count} 个作答区的 QTI 题目")
    interaction = interactions[0]
    kind = _name(interaction)
    if kind != "choiceInteraction":
        return unsupported(row, kind)
    return _read_choice(row, root, body, interaction)


def _read_choice(row: int, root: Element, body: Element, interaction: Element) -> Outcome:
    declaration = _response_declaration(root, _attr(interaction, "responseIdentifier") or "")
    if declaration is None:
        return ItemError(row, "answer", "没有与选择交互对应的 responseDeclaration")
    cardinality = (declaration.get("cardinality") or "single").strip()
    if cardinality == "ordered":
        return unsupported(row, "ordering")
    choices = _children(interaction, "simpleChoice")
    identifiers = [choice.get("identifier") or "" for choice in choices]
    right_ids = _correct_values(declaration)
    if not right_ids:
        return ItemError(row, "answer", "responseDeclaration 缺少 correctResponse")
    unknown = [value for value in right_ids if value not in identifiers]
    if unknown:
        return ItemError(row, "answer", f"正确答案 {unknown[0]!r} 不对应任何选项")
    texts, images = _choice_texts(choices)
    for position, text in enumerate(texts):
        if not text and position < len(OPTION_KEYS):
            return ItemError(row, "options", f"选项 {OPTION_KEYS[position]} 只有图片，无法导入")
    stem, stem_images = _stem_text(body)
    explanation, explanation_images = _explanation(root)
    extras = Extras(
        explanation=explanation or None,
        warnings=media_warnings([*stem_images, *images, *explanation_images]),
    )
    right = [identifiers.index(value) for value in right_ids]
    return choice_item(row, stem, texts, right, multiple=cardinality == "multiple", extras=extras)


def _response_declaration(root: Element, identifier: str) -> Element | None:
    for declaration in _children(root, "responseDeclaration"):
        if declaration.get("identifier") == identifier:
            return declaration
    return None


def _correct_values(declaration: Element) -> list[str]:
    values = [
        (value.text or "").strip()
        for correct in _children(declaration, "correctResponse")
        for value in _children(correct, "value")
    ]
    if values:
        return list(dict.fromkeys(value for value in values if value))
    # Some tools only score through a mapping; its positively scored keys are the right ones.
    return [
        entry.get("mapKey") or entry.get("map-key") or ""
        for mapping in _children(declaration, "mapping")
        for entry in _children(mapping, "mapEntry")
        if _positive(_attr(entry, "mappedValue"))
    ]


def _positive(value: str | None) -> bool:
    try:
        return float(value or "0") > 0
    except ValueError:
        return False


def _choice_texts(choices: Sequence[Element]) -> tuple[list[str], list[str]]:
    texts: list[str] = []
    images: list[str] = []
    for choice in choices:
        text, choice_images = _text_of(choice, _is_feedback)
        texts.append(text)
        images.extend(choice_images)
    return texts, images


def _stem_text(body: Element) -> tuple[str, list[str]]:
    # The stem is the item body with the interaction reduced to its prompt.
    return _text_of(body, lambda element: _is_feedback(element) or _name(element) == "simpleChoice")


def _explanation(root: Element) -> tuple[str, list[str]]:
    for feedback in _children(root, "modalFeedback"):
        if (feedback.get("identifier") or "").upper() in _EXPLANATION_IDS:
            return _text_of(feedback, lambda _element: False)
    return "", []


def read_qti_package(content: bytes) -> InterchangeResult:
    """Read a zipped QTI content package: every item resource in its manifest, in manifest order."""
    try:
        archive = SafeZip(content)
        manifest_path = _find_manifest(archive)
        manifest = parse_xml(archive.read(manifest_path))
        base_dir = posixpath.dirname(manifest_path)
        return collect(list(_read_package_items(archive, manifest, base_dir)))
    except FileRejected as exc:
        return rejected_file(exc.message)


def _find_manifest(archive: SafeZip) -> str:
    if archive.has(MANIFEST):
        return MANIFEST
    # Packages zipped together with their folder keep the manifest one level down.
    nested = sorted(
        (name for name in archive.names() if posixpath.basename(name) == MANIFEST),
        key=lambda name: name.count("/"),
    )
    if not nested:
        raise FileRejected("不是 QTI 题包：其中没有 imsmanifest.xml")
    return nested[0]


def _read_package_items(archive: SafeZip, manifest: Element, base_dir: str) -> Iterator[Outcome]:
    hrefs = list(_item_hrefs(manifest))
    if not hrefs:
        raise FileRejected("题包清单中没有 QTI 题目")
    for row, (href_base, href) in enumerate(hrefs, start=1):
        yield _read_package_item(archive, row, posixpath.join(base_dir, href_base), href)


def _item_hrefs(manifest: Element) -> Iterator[tuple[str, str]]:
    for resources in _descendants(manifest, "resources"):
        for resource in _children(resources, "resource"):
            if not (resource.get("type") or "").startswith("imsqti_item"):
                continue
            href = resource.get("href") or next((file.get("href") or "" for file in _children(resource, "file")), "")
            base = posixpath.join(resources.get(_XML_BASE) or "", resource.get(_XML_BASE) or "")
            yield base, href


def _read_package_item(archive: SafeZip, row: int, base_dir: str, href: str) -> Outcome:
    path = resolve_href(base_dir, href)
    if path is None:
        return ItemError(row, "file", f"题目引用 {href!r} 指向题包之外")
    if not archive.has(path):
        return ItemError(row, "file", f"清单列出了 {path}，但题包中没有该文件")
    data = archive.read(path)  # over-size members refuse the whole archive, so this may raise
    try:
        root = parse_xml(data)
    except FileRejected as exc:
        return ItemError(row, "file", f"{path}: {exc.message}")
    if _name(root) != "assessmentItem":
        return ItemError(row, "file", f"{path} 不是 QTI 题目（根元素 <{local_name(root)}>）")
    return _read_item(row, root)


# ---------------------------------------------------------------------------------------- writing


def write_qti3_item(item: QuestionDict) -> bytes:
    """Write one item as a QTI 3.0 ``qti-assessment-item``; raises ValueError for other types."""
    choices, right, multiple = _choices_for(item)
    identifier = _identifier(item.get("id"))
    title = xml_escape(one_line(str(item["stem"]), 60))
    explanation = str(item.get("explanation") or "")
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<qti-assessment-item xmlns="{QTI3_NAMESPACE}" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xsi:schemaLocation="{QTI3_NAMESPACE} {QTI3_SCHEMA}" '
        f'identifier="{identifier}" title="{title}" adaptive="false" time-dependent="false">',
        *_declaration_lines(right, multiple, has_explanation=bool(explanation)),
        "  <qti-item-body>",
        f"    <p>{_xhtml(str(item['stem']))}</p>",
        f'    <qti-choice-interaction response-identifier="RESPONSE" shuffle="false" '
        f'max-choices="{0 if multiple else 1}">',
        *(f'      <qti-simple-choice identifier="{key}">{_xhtml(text)}</qti-simple-choice>' for key, text in choices),
        "    </qti-choice-interaction>",
        "  </qti-item-body>",
        *_processing_lines(has_explanation=bool(explanation)),
    ]
    if explanation:
        lines += [
            '  <qti-modal-feedback outcome-identifier="FEEDBACK" identifier="EXPLANATION" '
            'show-hide="show" title="解析 Explanation">',
            f"    <qti-content-body><p>{_xhtml(explanation)}</p></qti-content-body>",
            "  </qti-modal-feedback>",
        ]
    lines.append("</qti-assessment-item>")
    return ("\n".join(lines) + "\n").encode("utf-8")


def _choices_for(item: QuestionDict) -> tuple[list[tuple[str, str]], list[str], bool]:
    kind = item.get("type")
    if kind == "judge":
        # QTI has no true/false type: a 判断 becomes the 正确/错误 pair that readers map back.
        answer = "A" if judge_truth(item) else "B"
        return list(zip(OPTION_KEYS, JUDGE_AS_CHOICE, strict=False)), [answer], False
    if kind not in {"single", "multiple"}:
        raise ValueError(f"QTI 格式不能写入 {kind!r} 题")
    options = written_options(item)
    choices = [(option.key, option.text) for option in options]
    return choices, [option.key for option in options if option.right], kind == "multiple"


def _declaration_lines(right: list[str], multiple: bool, *, has_explanation: bool) -> list[str]:
    cardinality = "multiple" if multiple else "single"
    lines = [
        f'  <qti-response-declaration identifier="RESPONSE" cardinality="{cardinality}" base-type="identifier">',
        "    <qti-correct-response>",
        *(f"      <qti-value>{xml_escape(key)}</qti-value>" for key in right),
        "    </qti-correct-response>",
        "  </qti-response-declaration>",
        '  <qti-outcome-declaration identifier="SCORE" cardinality="single" base-type="float">',
        "    <qti-default-value><qti-value>0</qti-value></qti-default-value>",
        "  </qti-outcome-declaration>",
    ]
    if has_explanation:
        lines.append('  <qti-outcome-declaration identifier="FEEDBACK" cardinality="single" base-type="identifier"/>')
    return lines


def _processing_lines(*, has_explanation: bool) -> list[str]:
    # Written out rather than by template so the explanation can be switched on after scoring.
    lines = [
        "  <qti-response-processing>",
        "    <qti-response-condition>",
        "      <qti-response-if>",
        '        <qti-match><qti-variable identifier="RESPONSE"/><qti-correct identifier="RESPONSE"/></qti-match>',
        '        <qti-set-outcome-value identifier="SCORE">'
        '<qti-base-value base-type="float">1</qti-base-value></qti-set-outcome-value>',
        "      </qti-response-if>",
        "    </qti-response-condition>",
    ]
    if has_explanation:
        lines.append(
            '    <qti-set-outcome-value identifier="FEEDBACK">'
            '<qti-base-value base-type="identifier">EXPLANATION</qti-base-value></qti-set-outcome-value>'
        )
    lines.append("  </qti-response-processing>")
    return lines


def _xhtml(text: str) -> str:
    return xml_escape(text).replace("\n", "<br/>")


def _identifier(raw: object) -> str:
    if raw is None or not str(raw).strip():
        return "exambank-item"
    return "exambank-" + _IDENTIFIER_UNSAFE.sub("-", str(raw).strip())


def write_qti3_package(items: Sequence[QuestionDict]) -> bytes:
    """Write items as a zipped QTI 3.0 content package: imsmanifest.xml plus one file per item."""
    files = [(f"items/item-{number:04d}.xml", write_qti3_item(item)) for number, item in enumerate(items, 1)]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        _add_file(archive, MANIFEST, _manifest([path for path, _ in files]))
        for path, data in files:
            _add_file(archive, path, data)
    return buffer.getvalue()


def _add_file(archive: zipfile.ZipFile, path: str, data: bytes) -> None:
    # A fixed timestamp keeps exports of the same items byte-identical.
    info = zipfile.ZipInfo(path, date_time=(2000, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def _manifest(paths: Sequence[str]) -> bytes:
    resources = [
        f'    <resource identifier="res-{number:04d}" type="imsqti_item_xmlv3p0" href="{path}">'
        f'<file href="{path}"/></resource>'
        for number, path in enumerate(paths, 1)
    ]
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<manifest xmlns="{CP_NAMESPACE}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xsi:schemaLocation="{CP_NAMESPACE} {CP_SCHEMA}" identifier="exambank-export">',
        "  <metadata><schema>QTI Package</schema><schemaversion>3.0.0</schemaversion></metadata>",
        "  <organizations/>",
        "  <resources>",
        *resources,
        "  </resources>",
        "</manifest>",
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")
