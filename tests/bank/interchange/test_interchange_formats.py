"""Format rules one by one: escapes, weights, fractions, categories, malformed items, detection."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import defusedxml.ElementTree as SafeET
import pytest

from app.bank.interchange import export_interchange, read_interchange
from app.bank.interchange._text import html_to_text
from app.bank.interchange.aiken import read_aiken, write_aiken
from app.bank.interchange.base import ItemError, SkippedItem
from app.bank.interchange.gift import gift_escape, read_gift, write_gift
from app.bank.interchange.moodle_xml import category_path, read_moodle_xml, write_moodle_xml
from app.bank.interchange.qti import QTI3_NAMESPACE, read_qti, write_qti3_item, write_qti3_package

Item = dict[str, Any]


def single(stem: str = "下列哪一项是我国的根本大法？", answer: str = "A", **extra: Any) -> Item:
    options = [{"key": "A", "text": "宪法"}, {"key": "B", "text": "刑法"}, {"key": "C", "text": "民法典"}]
    return {"type": "single", "stem": stem, "options": options, "answer": [answer], **extra}


def multiple(right: list[str]) -> Item:
    options = [{"key": key, "text": f"选项{key}"} for key in "ABCD"]
    return {"type": "multiple", "stem": "下列哪些属于行政处罚？", "options": options, "answer": right}


def judge(answer: str = "T", **extra: Any) -> Item:
    return {"type": "judge", "stem": "公务员应当忠于宪法。", "answer": [answer], **extra}


def options_of(data: Item) -> list[str]:
    return [option["text"] for option in data.get("options", [])]


# ---------------------------------------------------------------------------------- text cleaning


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("<p>第一段</p><p>第二段</p>", "第一段\n第二段"),
        ("一<br>二<br/><br />三", "一\n二\n\n三"),
        ("<div><p>嵌套</p></div>", "嵌套"),
        ("A &amp; B &lt;C&gt; &quot;D&quot;&nbsp;&nbsp;E", 'A & B <C> "D" E'),
        ("  多余   空白\n\t换行  ", "多余 空白 换行"),
        ("<script>alert(1)</script>题干<style>p{}</style>", "题干"),
        ("<ul><li>甲</li><li>乙</li></ul>", "甲\n乙"),
        ("<table><tr><td>a</td><td>b</td></tr></table>", "a b"),
    ],
)
def test_html_is_cleaned_to_plain_text(markup: str, text: str) -> None:
    assert html_to_text(markup)[0] == text


def test_html_images_are_reported() -> None:
    assert html_to_text('<p>看图<img src="@@PLUGINFILE@@/map.png" alt="地图"></p>') == (
        "看图",
        ["@@PLUGINFILE@@/map.png"],
    )


# ------------------------------------------------------------------------------------------- GIFT


def gift(text: str) -> list[Any]:
    result = read_gift(text.encode())
    return [*result.items, *result.skipped, *result.errors]


def test_gift_escapes_and_comments() -> None:
    text = (
        "// 注释行会被忽略\n"
        "// [tag:宪法] [tag:基础]\n"
        r"::题目\:一::下列\{说法\}正确的是 a\=b\~c\#d{=甲\=乙 ~丙\#丁 ~戊\\}"
    )

    (item,) = gift(text)

    assert item.data["stem"] == "下列{说法}正确的是 a=b~c#d"
    assert options_of(item.data) == ["甲=乙", "丙#丁", "戊\\"]
    assert item.data["answer"] == ["A"]
    assert item.data["tags"] == ["宪法", "基础"]


@pytest.mark.parametrize(
    ("answers", "kind", "keys"),
    [
        ("~%50%甲 ~%50%乙 ~%-100%丙", "multiple", ["A", "B"]),
        ("~%33.33333%甲 ~%33.33333%乙 ~%33.33334%丙 ~%-100%丁", "multiple", ["A", "B", "C"]),
        ("~%100%甲 ~乙 ~丙", "single", ["A"]),
        ("=甲 ~%50%乙 ~丙", "single", ["A"]),
    ],
)
def test_gift_weights_decide_the_right_keys(answers: str, kind: str, keys: list[str]) -> None:
    (item,) = gift(f"题干{{{answers}}}")

    assert (item.data["type"], item.data["answer"]) == (kind, keys)


@pytest.mark.parametrize(
    ("prefix", "stem"),
    [
        ("[html]", "<b>粗体</b> &amp; 正文"),
        ("[moodle]", "<b>粗体</b> &amp; 正文"),
        ("[plain]", "<b>粗体</b> &amp; 正文"),
        ("[markdown]", "<b>粗体</b> &amp; 正文"),
    ],
)
def test_gift_format_prefixes(prefix: str, stem: str) -> None:
    (item,) = gift(f"::t::{prefix}{stem}{{T}}")

    expected = "粗体 & 正文" if prefix in {"[html]", "[moodle]"} else stem
    assert item.data["stem"] == expected


@pytest.mark.parametrize("word", ["T", "TRUE", "F", "FALSE", "true", "false"])
def test_gift_truefalse_words(word: str) -> None:
    (item,) = gift(f"题干{{{word}#答错了#答对了####解析在此}}")

    assert item.data["type"] == "judge"
    assert item.data["answer"] == (["T"] if word.upper().startswith("T") else ["F"])
    assert item.data["explanation"] == "解析在此"


def test_gift_category_switches_apply_to_following_questions() -> None:
    text = "题一{T}\n\n$CATEGORY: $course$/top/法律/宪法\n\n题二{F}\n\n$CATEGORY: $course$/top\n\n题三{T}\n"

    items = gift(text)

    assert [(item.row, item.data["knowledge_point"], item.data["tags"]) for item in items] == [
        (1, None, []),
        (2, "法律/宪法", []),
        (3, None, []),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("题干{=甲 =乙 ~丙}", ItemError(1, "answer", "单选题标出了 2 个正确答案")),
        ("题干{~甲 ~乙 ~%-50%丙}", ItemError(1, "answer", "没有标出正确答案")),
        ("题干{=甲 ~乙", ItemError(1, "answer", "答案块以 { 开始，但没有以 } 结束")),
        ("::t::{T}", ItemError(1, "stem", "题干为空")),
        ("题干{=甲}", SkippedItem(1, "不支持简答/填空题（题型 shortanswer）")),
        ("题干{#3:2}", SkippedItem(1, "不支持数值题（题型 numerical）")),
        ("题干{}", SkippedItem(1, "不支持问答题（题型 essay）")),
        ("题干{=甲 -> 乙 =丙 -> 丁}", SkippedItem(1, "不支持匹配题（题型 match）")),
        (
            "只是说明文字",
            SkippedItem(1, "不支持不含题目的说明文字（题型 description）"),
        ),
    ],
)
def test_gift_malformed_and_unsupported_items(text: str, expected: object) -> None:
    assert gift(text) == [expected]


def test_gift_writer_escapes_specials_and_writes_weights() -> None:
    content = write_gift([multiple(["A", "B", "C"]), single(stem="a=b {c} ~d #e :f \\g")]).decode()

    assert "~%33.33333%选项A" in content
    assert "~%-100%选项D" in content
    assert r"a\=b \{c\} \~d \#e \:f \\g" in content
    assert gift_escape("=~#{}:\\\n") == "\\=\\~\\#\\{\\}\\:\\\\\\n"


def test_gift_writer_guards_answers_that_look_like_markup() -> None:
    item = single()
    item["options"][1]["text"] = "%50%不是权重"
    item["options"][2]["text"] = "[plain]不是格式"

    (parsed,) = read_gift(write_gift([item])).items

    assert options_of(parsed.data) == ["宪法", "%50%不是权重", "[plain]不是格式"]


def test_gift_writer_refuses_unknown_types() -> None:
    with pytest.raises(ValueError, match="essay"):
        write_gift([{"type": "essay", "stem": "论述", "answer": []}])


# ------------------------------------------------------------------------------------------ Aiken


def aiken(text: str) -> list[Any]:
    result = read_aiken(text.encode())
    return [*result.items, *result.skipped, *result.errors]


def test_aiken_accepts_chinese_option_marks_and_multi_line_stems() -> None:
    (item,) = aiken("根据宪法，\n下列说法正确的是：\nA．甲\nB、乙\nC）丙\nANSWER：C\n")

    assert item.data["stem"] == "根据宪法，\n下列说法正确的是："
    assert options_of(item.data) == ["甲", "乙", "丙"]
    assert item.data["answer"] == ["C"]


def test_aiken_zheng_que_cuo_wu_pair_is_a_judge_question() -> None:
    (item,) = aiken("公务员应当忠于宪法。\nA. 正确\nB. 错误\nANSWER: B\n")

    assert (item.data["type"], item.data["answer"]) == ("judge", ["F"])
    assert "options" not in item.data


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "题干\nA. 甲\nB. 乙\nANSWER: AB",
            ItemError(1, "answer", "第 4 行的 ANSWER 应为一个选项字母，而不是 'AB'"),
        ),
        ("题干\nA. 甲\nB. 乙\nANSWER: C", ItemError(1, "answer", "第 4 行的 ANSWER C 不对应任何选项")),
        ("题干\nA. 甲\nB. 乙\nANSWER:", ItemError(1, "answer", "第 4 行的 ANSWER 应为一个选项字母，而不是 ''")),
        ("ANSWER: A", ItemError(1, "stem", "第 1 行的 ANSWER 前没有题目")),
        ("题干\nA. 甲\nB. 乙", ItemError(1, "answer", "题目没有 ANSWER 行（文件结束之前）")),
    ],
)
def test_aiken_malformed_items(text: str, expected: ItemError) -> None:
    assert aiken(text) == [expected]


def test_aiken_question_without_options_is_reported_before_the_next_one() -> None:
    result = read_aiken("孤立的题干\n\n下一题\nA. 甲\nB. 乙\nANSWER: A\n".encode())

    assert result.errors == [ItemError(1, "options", "题目没有选项，也没有 ANSWER 行（第 3 行开始下一题之前）")]
    assert [(item.row, item.data["stem"]) for item in result.items] == [(2, "下一题")]


def test_aiken_writer_decisions() -> None:
    content, skipped = write_aiken([judge("F"), multiple(["A", "B"]), single(stem="A. 像选项的题干"), single()])

    assert content.decode() == (
        "公务员应当忠于宪法。\nA. 正确\nB. 错误\nANSWER: B\n\n"
        "下列哪一项是我国的根本大法？\nA. 宪法\nB. 刑法\nC. 民法典\nANSWER: A\n"
    )
    assert [(skip.row, skip.reason) for skip in skipped] == [
        (2, "Aiken 格式每题只能有一个正确答案，多选题未导出"),
        (3, "题干开头像 Aiken 的选项行或 ANSWER 行"),
    ]


# ------------------------------------------------------------------------------------- Moodle XML


def quiz(*questions: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?><quiz>' + "".join(questions) + "</quiz>").encode()


def multichoice(answers: str, single_flag: str = "true", text_format: str = "html") -> str:
    return (
        f'<question type="multichoice"><questiontext format="{text_format}"><text>题干</text></questiontext>'
        f"<single>{single_flag}</single>{answers}</question>"
    )


def answer(fraction: str, text: str) -> str:
    return f'<answer fraction="{fraction}"><text>{text}</text></answer>'


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        ("$course$/top/Iota/Kappa", "Iota/Kappa"),
        ("$course$/Iota", "Iota"),
        ("$system$/top", None),
        ("$course$/top/A//B/C", "A/B/C"),
        ("  法律 / 宪法 ", "法律/宪法"),
    ],
)
def test_moodle_category_paths(raw: str, path: str | None) -> None:
    assert category_path(raw) == path


def test_moodle_single_with_two_full_marks_is_an_error() -> None:
    result = read_moodle_xml(quiz(multichoice(answer("100", "甲") + answer("100", "乙"))))

    assert result.errors == [ItemError(1, "answer", "单选题标出了 2 个正确答案")]


def test_moodle_single_without_full_marks_is_an_error() -> None:
    result = read_moodle_xml(quiz(multichoice(answer("50", "甲") + answer("0", "乙"))))

    assert result.errors == [ItemError(1, "answer", "没有标出正确答案")]


def test_moodle_multiple_response_with_one_right_option_becomes_single() -> None:
    result = read_moodle_xml(quiz(multichoice(answer("100", "甲") + answer("-100", "乙"), single_flag="false")))

    assert [(item.data["type"], item.data["answer"]) for item in result.items] == [("single", ["A"])]


def test_moodle_unreadable_fraction_and_too_many_options_are_errors() -> None:
    nine = "".join(answer("100" if n == 0 else "0", f"选项{n}") for n in range(9))
    result = read_moodle_xml(quiz(multichoice(answer("abc", "甲")), multichoice(nine)))

    assert result.errors == [
        ItemError(1, "answer", "第 1 个答案的 fraction 无法识别：'abc'"),
        ItemError(2, "options", "共 9 个选项，最多允许 8 个"),
    ]


def test_moodle_truefalse_without_full_marks_and_question_without_type() -> None:
    truefalse = '<question type="truefalse"><questiontext><text>题干</text></questiontext>' + answer("0", "true")
    result = read_moodle_xml(quiz(truefalse + "</question>", "<question><questiontext/></question>"))

    assert result.errors == [
        ItemError(1, "answer", "没有 fraction 为 100 的答案，无法确定正确答案"),
        ItemError(2, "type", "<question> 元素缺少 type 属性"),
    ]


@pytest.mark.parametrize("kind", ["matching", "numerical", "shortanswer", "description", "ddwtos", "myplugin"])
def test_moodle_other_types_are_skipped(kind: str) -> None:
    result = read_moodle_xml(quiz(f'<question type="{kind}"><questiontext><text>x</text></questiontext></question>'))

    assert [skip.row for skip in result.skipped] == [1]
    assert result.skipped[0].reason.startswith("不支持")
    assert result.items == [] and result.errors == []


def test_moodle_plain_text_format_is_kept_literally_and_tags_are_read() -> None:
    question = multichoice(answer("100", "&lt;b&gt;甲&lt;/b&gt;") + answer("0", "乙"), text_format="plain_text")
    question = question.replace("</question>", "<tags><tag><text>宪法</text></tag></tags></question>")

    (item,) = read_moodle_xml(quiz(question)).items

    # The answer itself has no format attribute, so Moodle's auto format (HTML) applies to it.
    assert options_of(item.data) == ["甲", "乙"]
    assert item.data["tags"] == ["宪法"]


def test_moodle_writer_fractions_and_categories() -> None:
    content = write_moodle_xml(
        [
            {**multiple(["A", "B", "C"]), "knowledge_point": "基础法律/宪法", "tags": ["重点"], "id": 7},
            {**single(), "knowledge_point": "基础法律/宪法"},
            judge("F", explanation="见宪法第一条"),
        ]
    )
    root = SafeET.fromstring(content)

    categories = [question.findtext("category/text") for question in root if question.get("type") == "category"]
    assert categories == ["$course$/top/基础法律/宪法", "$course$/top"]
    first = root.findall("question")[1]
    assert [answer.get("fraction") for answer in first.findall("answer")] == [
        "33.33333",
        "33.33333",
        "33.33333",
        "-100",
    ]
    assert first.findtext("single") == "false"
    assert first.findtext("idnumber") == "7"
    assert first.findtext("tags/tag/text") == "重点"
    truefalse = root.findall("question")[-1]
    assert [(a.findtext("text"), a.get("fraction")) for a in truefalse.findall("answer")] == [
        ("true", "0"),
        ("false", "100"),
    ]


def test_moodle_writer_refuses_unknown_types() -> None:
    with pytest.raises(ValueError, match="essay"):
        write_moodle_xml([{"type": "essay", "stem": "论述", "answer": []}])


# -------------------------------------------------------------------------------------------- QTI


def qti2(body: str, declaration: str = "") -> bytes:
    return (
        '<assessmentItem xmlns="http://www.imsglobal.org/xsd/imsqti_v2p1" identifier="x">'
        f"{declaration}<itemBody>{body}</itemBody></assessmentItem>"
    ).encode()


def test_qti_other_interactions_are_skipped() -> None:
    result = read_qti(qti2('<p>填空 <textEntryInteraction responseIdentifier="R"/></p>'))

    assert result.skipped == [SkippedItem(1, "不支持填空题（题型 textEntryInteraction）")]


def test_qti_item_with_two_interactions_is_skipped() -> None:
    body = '<choiceInteraction responseIdentifier="A"/><choiceInteraction responseIdentifier="B"/>'

    assert read_qti(qti2(body)).skipped == [SkippedItem(1, "不支持含 2 个作答区的 QTI 题目")]


def test_qti_mapping_stands_in_for_a_missing_correct_response() -> None:
    declaration = (
        '<responseDeclaration identifier="R" cardinality="multiple" baseType="identifier"><mapping>'
        '<mapEntry mapKey="x" mappedValue="1"/><mapEntry mapKey="y" mappedValue="-1"/>'
        '<mapEntry mapKey="z" mappedValue="1"/></mapping></responseDeclaration>'
    )
    body = (
        '<choiceInteraction responseIdentifier="R"><prompt>选出正确项</prompt>'
        '<simpleChoice identifier="x">甲</simpleChoice><simpleChoice identifier="y">乙</simpleChoice>'
        '<simpleChoice identifier="z">丙</simpleChoice></choiceInteraction>'
    )

    (item,) = read_qti(qti2(body, declaration)).items

    assert (item.data["type"], item.data["answer"], item.data["stem"]) == ("multiple", ["A", "C"], "选出正确项")


@pytest.mark.parametrize(
    ("declaration", "expected"),
    [
        ("", ItemError(1, "answer", "没有与选择交互对应的 responseDeclaration")),
        (
            '<responseDeclaration identifier="R" cardinality="single"/>',
            ItemError(1, "answer", "responseDeclaration 缺少 correctResponse"),
        ),
        (
            '<responseDeclaration identifier="R" cardinality="single"><correctResponse><value>q</value>'
            "</correctResponse></responseDeclaration>",
            ItemError(1, "answer", "正确答案 'q' 不对应任何选项"),
        ),
    ],
)
def test_qti_answer_problems(declaration: str, expected: ItemError) -> None:
    body = (
        '<choiceInteraction responseIdentifier="R"><simpleChoice identifier="x">甲</simpleChoice></choiceInteraction>'
    )

    assert read_qti(qti2(body, declaration)).errors == [expected]


def test_qti3_writer_output_is_a_qti3_item_with_explanation() -> None:
    content = write_qti3_item(single(id=12, explanation="宪法是根本大法"))
    root = SafeET.fromstring(content)

    assert root.tag == f"{{{QTI3_NAMESPACE}}}qti-assessment-item"
    assert root.get("identifier") == "exambank-12"
    (item,) = read_qti(content).items
    assert item.data["explanation"] == "宪法是根本大法"


def test_qti3_package_layout() -> None:
    with zipfile.ZipFile(io.BytesIO(write_qti3_package([single(), judge()]))) as archive:
        names = archive.namelist()
        manifest = archive.read("imsmanifest.xml").decode()

    assert names == ["imsmanifest.xml", "items/item-0001.xml", "items/item-0002.xml"]
    assert 'type="imsqti_item_xmlv3p0" href="items/item-0002.xml"' in manifest


# -------------------------------------------------------------------------------- detect / export


@pytest.mark.parametrize(
    ("filename", "content", "reader"),
    [
        ("bank.xml", quiz(multichoice(answer("100", "甲") + answer("0", "乙"))), read_moodle_xml),
        ("bank.XML", b"<?xml version='1.0'?><!-- <x> --><!DOCTYPE quiz><quiz></quiz>", read_moodle_xml),
        ("item.xml", write_qti3_item(judge()), read_qti),
        ("item.xml", qti2("<p>x</p>"), read_qti),
        ("other.xml", b"<?xml version='1.0'?><rss/>", None),
        ("题库.TXT", "题干{T}".encode(), read_gift),
        ("题库.txt", "题干\nA. 甲\nB. 乙\nANSWER: A".encode(), read_aiken),
        # Braces in an Aiken stem are outweighed by its ANSWER lines.
        (
            "题库.txt",
            "集合{}与{x}\nA. 空集\nB. 单元素集\nANSWER: A\n下一题\nA. 甲\nB. 乙\nANSWER: B".encode(),
            read_aiken,
        ),
        ("notes.txt", "只是一些笔记".encode(), None),
        ("binary.txt", b"\x00\x01\x02", None),
        ("bank.csv", b"stem,answer", None),
        ("bank.xlsx", b"PK\x03\x04", None),
        ("noextension", "题干{T}".encode(), None),
    ],
)
def test_read_interchange_detection(filename: str, content: bytes, reader: Any) -> None:
    result = read_interchange(filename, content)

    assert result == (None if reader is None else reader(content))
    if reader is not None:
        assert result is not None and not any(error.row == 0 for error in result.errors)


def test_read_interchange_by_extension() -> None:
    assert read_interchange("x.gift", "题干{T}".encode()).items  # type: ignore[union-attr]
    assert read_interchange("x.aiken", "题干\nA. 甲\nB. 乙\nANSWER: A".encode()).items  # type: ignore[union-attr]
    assert read_interchange("x.zip", write_qti3_package([judge()])).items  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("fmt", "media_type", "filename"),
    [
        ("moodle_xml", "application/xml", "questions.xml"),
        ("gift", "text/plain; charset=utf-8", "questions.gift.txt"),
        ("aiken", "text/plain; charset=utf-8", "questions.aiken.txt"),
        ("qti", "application/zip", "questions-qti.zip"),
    ],
)
def test_export_media_types_and_filenames(fmt: str, media_type: str, filename: str) -> None:
    exported = export_interchange(fmt, [single()])

    assert (exported.media_type, exported.filename) == (media_type, filename)


def test_export_reports_skips_with_positions_in_the_original_list() -> None:
    items = [{"type": "essay", "stem": "论述"}, single(), multiple(["A", "B"]), judge()]

    aiken_export = export_interchange("aiken", items)
    gift_export = export_interchange("gift", items)

    assert [skip.row for skip in aiken_export.skipped] == [1, 3]
    assert aiken_export.skipped[0].reason == "“essay”不是本系统的题型，未导出"
    assert [skip.row for skip in gift_export.skipped] == [1]
    assert len(read_gift(gift_export.content).items) == 3


def test_export_unknown_format_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="不支持的交换格式 'word'"):
        export_interchange("word", [single()])


def test_qti_reads_crlf_files() -> None:
    content = write_qti3_item({**single(stem="第一行\n第二行"), "explanation": "解析"}).replace(b"\n", b"\r\n")

    (item,) = read_qti(content).items

    assert (item.data["stem"], item.data["explanation"]) == ("第一行\n第二行", "解析")


@pytest.mark.parametrize(
    "write",
    [write_moodle_xml, write_gift, write_aiken, write_qti3_package],
    ids=lambda write: write.__name__,
)
@pytest.mark.parametrize(
    ("item", "message"),
    [
        (judge("X"), "应为 \\['T'\\] 或 \\['F'\\]"),
        (single(answer="Z"), "不是本题的选项"),
        ({"type": "essay", "stem": "论述", "answer": []}, "不能写入 'essay' 题"),
    ],
    ids=["bad-judge-answer", "stray-answer-key", "unknown-type"],
)
def test_writers_refuse_items_that_are_not_valid_exambank_questions(write: Any, item: Item, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        write([item])
