"""Every third-party interchange sample in /work/shared/data/interchange, read exactly.

The files are never copied into the repo (their licences forbid it); the tests read them in place
and skip when the shared data directory is absent.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest

from app.bank.interchange import read_interchange
from app.bank.interchange.aiken import read_aiken
from app.bank.interchange.base import InterchangeResult, ItemError, SkippedItem
from app.bank.interchange.gift import read_gift
from app.bank.interchange.moodle_xml import read_moodle_xml
from app.bank.interchange.qti import read_qti, read_qti_package

DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "interchange"
MOODLE = DATA / "moodle" / "question"
MOODLE_CURRENT = DATA / "moodle-current" / "question"
QTI21 = DATA / "qti2.1-oat-sa-qti-sdk" / "test" / "samples" / "ims" / "items" / "2_1"
QTI_1EDTECH = DATA / "qti-1EdTech-qti-examples"
QTI3_PACKAGING = QTI_1EDTECH / "qtiv3-examples" / "packaging"

pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="shared interchange samples are not available")


def summary(result: InterchangeResult) -> list[tuple[int, str, str, list[str], list[str]]]:
    """(row, type, stem, option texts, answer) for each imported item."""
    return [
        (
            item.row,
            item.data["type"],
            item.data["stem"],
            [option["text"] for option in item.data.get("options", [])],
            item.data["answer"],
        )
        for item in result.items
    ]


def field_of(result: InterchangeResult, key: str) -> list[Any]:
    return [item.data.get(key) for item in result.items]


def skipped_rows(result: InterchangeResult) -> list[tuple[int, str]]:
    return [(skip.row, skip.reason.split("（题型 ")[1].rstrip("）")) for skip in result.skipped]


# ------------------------------------------------------------------------------------ Moodle XML


def test_moodle_multichoice_with_embedded_media_keeps_the_question_and_warns() -> None:
    result = read_moodle_xml((MOODLE / "format/xml/tests/fixtures/multichoice.xml").read_bytes())

    assert summary(result) == [
        (
            1,
            "single",
            "Listen to this greeting:\n\nWhat language is being spoken?",
            ["English", "French", "German", "Danish"],
            ["B"],
        )
    ]
    assert result.skipped == [] and result.errors == []
    item = result.items[0].data
    assert item["explanation"] is None
    assert item["knowledge_point"] == "Default for testhead/Multichoice"
    assert item["tags"] == []  # the category is the knowledge point, not a tag
    assert item["warnings"] == [
        "embedded file bonjour.mp3 not imported (附件未导入)",
        "embedded image flag-uk.jpg not imported (图片未导入)",
        "embedded image flag-france.jpg not imported (图片未导入)",
        "embedded image flag-german.jpg not imported (图片未导入)",
        "embedded image flag-denmark.jpg not imported (图片未导入)",
    ]


def test_moodle_truefalse_with_crlf_images_and_feedback() -> None:
    content = (MOODLE / "format/xml/tests/fixtures/truefalse.xml").read_bytes()
    assert b"\r\n" in content

    result = read_moodle_xml(content)

    assert summary(result) == [
        (1, "judge", "Moodle is an acronym for Modular Object-Oriented Dynamic Learning Education.", [], ["F"]),
        (2, "judge", "Moodle is an acronym for Modular Object-Oriented Dynamic Learning Environment.", [], ["T"]),
    ]
    assert field_of(result, "explanation") == [
        "For further information, see the documentation about Moodle.",
        "For further information, see the documentation about Moodle\n.",
    ]
    # Images in per-answer feedback are not imported at all, so they raise no warning.
    expected_warnings = [
        "embedded image logo.jpg not imported (图片未导入)",
        "embedded image infos.jpg not imported (图片未导入)",
    ]
    assert field_of(result, "warnings") == [expected_warnings, expected_warnings]
    assert field_of(result, "knowledge_point") == ["Default for testhead/TrueFalse"] * 2


def test_moodle_legacy_image_tag_and_cloze() -> None:
    path = MOODLE / "format/xml/tests/fixtures/sample_questions_with_old_image_tag.xml"

    result = read_moodle_xml(path.read_bytes())

    assert result.skipped == [SkippedItem(1, "不支持嵌入答案的完形填空题（题型 cloze）")]
    assert summary(result) == [
        (
            2,
            "single",
            'This is a multichoice question with an image in the old "image" field that was used in Moodle 1.9',
            ["wrong answer", "another wrong answer", "right answer"],
            ["C"],
        )
    ]
    assert result.items[0].data["warnings"] == ["embedded image moodle.png not imported (图片未导入)"]
    assert result.items[0].data["knowledge_point"] == "Default for Test images in backup"
    assert result.errors == []


def test_moodle_multichoice_with_50_50_fractions_is_multiple_with_two_keys() -> None:
    result = read_moodle_xml((MOODLE / "type/multichoice/tests/fixtures/testquestion.moodle.xml").read_bytes())

    assert summary(result) == [
        (
            1,
            "multiple",
            "Find the capital cities in Europe.",
            ["Tokyo", "Spain", "London", "Barcelona", "Paris"],
            ["C", "E"],
        )
    ]
    assert field_of(result, "explanation") == ["Berlin, Paris and London"]
    assert field_of(result, "knowledge_point") == ["Default for C1"]
    assert "warnings" not in result.items[0].data


def test_moodle_truefalse_testquestion() -> None:
    result = read_moodle_xml((MOODLE / "type/truefalse/tests/fixtures/testquestion.moodle.xml").read_bytes())

    assert summary(result) == [(1, "judge", "The answer is true.", [], ["T"])]
    assert field_of(result, "explanation") == ["You should have selected true."]
    assert field_of(result, "knowledge_point") == ["Test questions"]
    assert field_of(result, "tags") == [[]]


def test_moodle_nested_categories_become_knowledge_points() -> None:
    path = MOODLE_CURRENT / "format/xml/tests/fixtures/nested_categories_with_questions.xml"

    result = read_moodle_xml(path.read_bytes())

    assert summary(result) == [
        (1, "judge", "Testing Iota Question", [], ["T"]),
        (3, "judge", "Testing Kappa Question", [], ["T"]),
        (4, "judge", "Testing Lambda Question", [], ["T"]),
        (5, "judge", "Testing Mu Question", [], ["T"]),
    ]
    assert field_of(result, "knowledge_point") == ["Iota", "Iota/Kappa", "Iota/Kappa/Lambda", "Iota/Mu"]
    assert field_of(result, "tags") == [[], [], [], []]
    assert result.skipped == [SkippedItem(2, "不支持问答题（题型 essay）")]
    assert result.errors == []


# ------------------------------------------------------------------------------------------ GIFT


def test_gift_fixture_reads_choice_and_truefalse_and_skips_the_rest() -> None:
    content = (MOODLE / "format/gift/tests/fixtures/questions.gift.txt").read_bytes()
    assert b"\r\n" in content
    question = "What's between orange and green in the spectrum?"

    result = read_gift(content)

    assert summary(result) == [
        (3, "single", question, ["yellow", "red", "blue"], ["A"]),
        (4, "multiple", question, ["yellow", "red", "off-beige", "blue"], ["A", "C"]),
        # The fixture has a stray '";' after the closing brace, which GIFT reads as a
        # missing-word question, as Moodle does.
        (7, "judge", '42 is the Absolute Answer to everything._____";', [], ["F"]),
        (8, "judge", "TSL is blablabla.", [], ["T"]),
        (9, "judge", "TSL is blablabla.", [], ["T"]),
    ]
    assert field_of(result, "explanation") == [
        None,
        None,
        "This is, of course, a Hitchiker's Guide to the Galaxy reference.",
        None,
        None,
    ]
    assert skipped_rows(result) == [(1, "essay"), (2, "match"), (5, "numerical"), (6, "shortanswer")]
    assert result.errors == []


def test_gift_category_fixture_with_escapes() -> None:
    path = MOODLE_CURRENT / "format/gift/tests/fixtures/questions_in_category.gift.txt"

    result = read_gift(path.read_bytes())

    assert summary(result) == [
        (
            2,
            "single",
            "Listen to this greeting:\n\nWhat language is being spoken?",
            ["English", "French", "German", "Spanish"],
            ["B"],
        ),
        (4, "judge", "Moodle is an acronym for Modular Object-Oriented Dynamic Learning Environment.", [], ["T"]),
    ]
    assert field_of(result, "knowledge_point") == ["Default for New Features"] * 2
    assert field_of(result, "tags") == [[]] * 2
    assert skipped_rows(result) == [(1, "match"), (3, "shortanswer")]
    assert result.errors == []


# ----------------------------------------------------------------------------------------- Aiken


def test_aiken_fixture_with_crlf_and_true_false_options() -> None:
    content = (MOODLE / "format/aiken/tests/fixtures/questions.aiken.txt").read_bytes()
    assert b"\r\n" in content

    result = read_aiken(content)

    assert summary(result) == [
        (
            1,
            "single",
            "The Moodle project was started by:",
            ["Petr Skoda", "Martin Dougiamas", "Eloy Lafuente", "Tim Hunt"],
            ["B"],
        ),
        # A True/False pair stays a single-choice question; Aiken text is literal, not HTML.
        (
            2,
            "single",
            'Moodle\'s abilities include handling user input that includes <html class="cool"> & images:',
            ["True", "False"],
            ["A"],
        ),
    ]
    assert result.skipped == [] and result.errors == []


def test_aiken_errors_fixture_reports_each_malformed_item_by_number() -> None:
    result = read_aiken((MOODLE_CURRENT / "format/aiken/tests/fixtures/aiken_errors.txt").read_bytes())

    assert summary(result) == [
        (3, "single", "A good question", ["Correct", "Incorrect"], ["A"]),
        (5, "single", "A second good question", ["Incorrect (No space)", "Correct (No space)"], ["B"]),
    ]
    assert result.errors == [
        ItemError(1, "options", "只有 1 个选项，选择题至少需要 2 个"),
        ItemError(2, "stem", "第 5 行的选项前没有题干"),
        ItemError(4, "answer", "题目没有 ANSWER 行（第 18 行开始下一题之前）"),
    ]
    assert result.skipped == []


# ------------------------------------------------------------------------------------------- QTI

LUGGAGE_OPTIONS = [
    "You must stay with your luggage at all times.",
    "Do not let someone else look after your luggage.",
    "Remember your luggage when you leave.",
]
LUGGAGE_STEM = "Look at the text in the picture.\nWhat does it say?"
WATER = "Which of the following elements are used to form water?"
ELEMENTS = ["Hydrogen", "Helium", "Carbon", "Oxygen", "Nitrogen", "Chlorine"]
SIGN_WARNING = ["embedded image sign.png not imported (图片未导入)"]

QTI_EXPECTED = {
    QTI21 / "choice.xml": ("single", LUGGAGE_STEM, LUGGAGE_OPTIONS, ["A"]),
    QTI21 / "choice_fixed.xml": ("single", LUGGAGE_STEM, [*LUGGAGE_OPTIONS, "None of the above."], ["A"]),
    QTI21 / "choice_multiple.xml": ("multiple", WATER, ELEMENTS, ["A", "D"]),
    QTI_1EDTECH / "qtiv2p2-examples/items/choice.xml": ("single", LUGGAGE_STEM, LUGGAGE_OPTIONS, ["A"]),
    QTI_1EDTECH / "qtiv2p2-examples/items/choice_multiple.xml": ("multiple", WATER, ELEMENTS, ["A", "D"]),
    QTI3_PACKAGING / "items/choice.xml": ("single", LUGGAGE_STEM, LUGGAGE_OPTIONS, ["A"]),
    QTI3_PACKAGING / "items/choice_multiple.xml": ("multiple", WATER, ELEMENTS, ["A", "D"]),
    # A true/false written as a two-choice single stays single; its inline feedback is dropped.
    QTI3_PACKAGING / "BBQsTest/id-83210b60ed8f/TF-choice.xml": (
        "single",
        "An octahedron has 12 faces.",
        ["True", "False"],
        ["B"],
    ),
    QTI3_PACKAGING / "BBQsTest/id-3cd82285401e/MultipleAnswer-choice-materials.xml": (
        "multiple",
        "Select the application(s) for which aluminium alloy is most suitable:",
        ["Aircraft", "Irrigation pipes", "Cultivator tines", "Racing cars"],
        ["A", "B"],
    ),
    # MathML options are kept as their TeX annotation.
    QTI3_PACKAGING / "BBQsTest/id-371b0f88774a/MultipleChoice-choice-polynomials.xml": (
        "single",
        "Which of the following is not a polynomial?",
        [r"\[ \sec^2{\theta} \]", r"\[ x+1001y \]", r"\[ x^3-5x+87 \]", r"\[ 1-\zeta^2 \]"],
        ["A"],
    ),
    QTI3_PACKAGING / "interactionMixSaxonyV3/Choicemultiple_2014410822.xml": (
        "multiple",
        "Welche Städte verfügen nicht über einen Internationalen Flughafen?",
        ["Leipzig", "Chemnitz", "Dresden", "Zwickau"],
        ["B", "D"],
    ),
    QTI3_PACKAGING / "interactionMixSaxonyV3/Choicetruefalse_176040516.xml": (
        "single",
        "Das Bundesland Sachsen ist eines der neuen Bundesländer und gehörte damit zur ehemaligen "
        "Deutschen Demokratischen Republik (DDR).",
        ["Richtig", "Falsch"],
        ["A"],
    ),
}


@pytest.mark.parametrize("path", list(QTI_EXPECTED), ids=lambda path: path.name)
def test_qti_choice_items(path: Path) -> None:
    kind, stem, options, answer = QTI_EXPECTED[path]

    result = read_qti(path.read_bytes())

    assert summary(result) == [(1, kind, stem, options, answer)]
    assert result.skipped == [] and result.errors == []
    assert result.items[0].data["explanation"] is None
    assert result.items[0].data.get("warnings", []) == (SIGN_WARNING if "sign.png" in path.read_text() else [])


def test_qti_choice_with_image_only_options_is_an_error() -> None:
    path = QTI3_PACKAGING / "interactionMixSaxonyV3/Choicesingle_853928446.xml"

    result = read_qti(path.read_bytes())

    assert result.items == []
    assert result.errors == [ItemError(1, "options", "选项 A 只有图片，无法导入")]


def test_every_shared_file_is_covered_by_these_tests() -> None:
    covered = {
        *QTI_EXPECTED,
        QTI3_PACKAGING / "interactionMixSaxonyV3/Choicesingle_853928446.xml",
        MOODLE / "format/xml/tests/fixtures/multichoice.xml",
        MOODLE / "format/xml/tests/fixtures/truefalse.xml",
        MOODLE / "format/xml/tests/fixtures/sample_questions_with_old_image_tag.xml",
        MOODLE / "type/multichoice/tests/fixtures/testquestion.moodle.xml",
        MOODLE / "type/truefalse/tests/fixtures/testquestion.moodle.xml",
        MOODLE / "format/gift/tests/fixtures/questions.gift.txt",
        MOODLE / "format/aiken/tests/fixtures/questions.aiken.txt",
        MOODLE_CURRENT / "format/xml/tests/fixtures/nested_categories_with_questions.xml",
        MOODLE_CURRENT / "format/gift/tests/fixtures/questions_in_category.gift.txt",
        MOODLE_CURRENT / "format/aiken/tests/fixtures/aiken_errors.txt",
    }
    present = {path.resolve() for path in DATA.rglob("*") if path.is_file()}

    assert present == {path.resolve() for path in covered}


# ------------------------------------------------------------------------------ format detection


@pytest.mark.parametrize(
    ("path", "items", "skipped", "errors"),
    [
        (MOODLE / "format/xml/tests/fixtures/truefalse.xml", 2, 0, 0),
        (MOODLE_CURRENT / "format/xml/tests/fixtures/nested_categories_with_questions.xml", 4, 1, 0),
        (QTI21 / "choice_multiple.xml", 1, 0, 0),
        (QTI3_PACKAGING / "items/choice.xml", 1, 0, 0),
        (MOODLE / "format/gift/tests/fixtures/questions.gift.txt", 5, 4, 0),
        (MOODLE_CURRENT / "format/gift/tests/fixtures/questions_in_category.gift.txt", 2, 2, 0),
        (MOODLE / "format/aiken/tests/fixtures/questions.aiken.txt", 2, 0, 0),
        (MOODLE_CURRENT / "format/aiken/tests/fixtures/aiken_errors.txt", 2, 0, 3),
    ],
    ids=lambda value: value.name if isinstance(value, Path) else str(value),
)
def test_read_interchange_detects_the_format_of_each_fixture(path: Path, items: int, skipped: int, errors: int) -> None:
    # A plain ".txt" name forces detection from the content alone.
    for filename in (path.name, "upload.txt" if path.suffix == ".txt" else path.name):
        result = read_interchange(filename, path.read_bytes())

        assert result is not None
        assert (len(result.items), len(result.skipped), len(result.errors)) == (items, skipped, errors)


# ------------------------------------------------------------------------------------ QTI package


def _package(manifest: str, files: dict[str, bytes], *, prefix: str = "") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(prefix + "imsmanifest.xml", manifest)
        for name, data in files.items():
            archive.writestr(prefix + name, data)
    return buffer.getvalue()


def _manifest(resources: list[tuple[str, str]]) -> str:
    entries = "".join(
        f'<resource identifier="r{number}" type="{kind}" href="{href}"><file href="{href}"/></resource>'
        for number, (kind, href) in enumerate(resources)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<manifest xmlns="http://www.imsglobal.org/xsd/qti/qtiv3p0/imscp_v1p1" identifier="m">'
        f"<organizations/><resources>{entries}</resources></manifest>"
    )


@pytest.mark.parametrize("prefix", ["", "exported-package/"])
def test_qti_package_follows_item_resources_in_manifest_order(prefix: str) -> None:
    files = {
        "items/multiple.xml": (QTI3_PACKAGING / "items/choice_multiple.xml").read_bytes(),
        "items/tf.xml": (QTI3_PACKAGING / "BBQsTest/id-83210b60ed8f/TF-choice.xml").read_bytes(),
        "items/images.xml": (QTI3_PACKAGING / "interactionMixSaxonyV3/Choicesingle_853928446.xml").read_bytes(),
        "v2/choice.xml": (QTI21 / "choice.xml").read_bytes(),
        "test.xml": b"<qti-assessment-test/>",
    }
    manifest = _manifest(
        [
            ("imsqti_item_xmlv3p0", "items/tf.xml"),
            ("imsqti_test_xmlv3p0", "test.xml"),
            ("imsqti_item_xmlv3p0", "items/images.xml"),
            ("imsqti_item_xmlv2p1", "v2/choice.xml"),
            ("imsqti_item_xmlv3p0", "items/multiple.xml"),
            ("imsqti_item_xmlv3p0", "items/missing.xml"),
        ]
    )

    result = read_qti_package(_package(manifest, files, prefix=prefix))

    assert summary(result) == [
        (1, "single", "An octahedron has 12 faces.", ["True", "False"], ["B"]),
        (3, "single", LUGGAGE_STEM, LUGGAGE_OPTIONS, ["A"]),
        (4, "multiple", WATER, ELEMENTS, ["A", "D"]),
    ]
    assert result.errors == [
        ItemError(2, "options", "选项 A 只有图片，无法导入"),
        ItemError(5, "file", f"清单列出了 {prefix}items/missing.xml，但题包中没有该文件"),
    ]
    assert result.skipped == []
