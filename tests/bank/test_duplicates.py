from app.bank.duplicates import Match, find_duplicates, similar_pairs, stem_entry

THEORY = ("single", "theory", None)


def test_exact_duplicates_ignore_punctuation_width_case_and_option_order() -> None:
    rows = [
        stem_entry(2, THEORY, "依据《宪法》，ABC 的说法是？", ["甲", "乙"]),
        stem_entry(3, THEORY, "依据宪法,ａｂｃ的说法是", ["乙", "甲 "]),
    ]
    bank = [
        stem_entry(70, THEORY, "依据宪法ABC的说法是。", ["甲", "乙"]),
        stem_entry(9, THEORY, "依据宪法abc的说法是", ["甲", "乙"]),
    ]
    assert find_duplicates(rows, bank) == [
        Match(2, "exact", 100.0, question_id=9),
        Match(3, "exact", 100.0, question_id=9),
        Match(3, "exact", 100.0, similar_to_row=2),
    ]


def test_the_same_stem_with_other_options_is_only_near() -> None:
    rows = [
        stem_entry(2, THEORY, "下列说法错误的是", ["甲", "乙"]),
        stem_entry(3, THEORY, "下列说法错误的是", ["丙", "丁"]),
    ]
    assert find_duplicates(rows, []) == [Match(3, "near", 100.0, similar_to_row=2)]


def test_near_duplicates_start_at_a_ratio_of_ninety() -> None:
    base = "一二三四五六七八九十" * 2
    bank = [stem_entry(5, THEORY, base, [])]
    kept_18_of_20 = stem_entry(2, THEORY, base[:18] + "天地", [])
    kept_17_of_20 = stem_entry(2, THEORY, base[:17] + "天地人", [])
    assert find_duplicates([kept_18_of_20], bank) == [Match(2, "near", 90.0, question_id=5)]
    assert find_duplicates([kept_17_of_20], bank) == []


def test_questions_of_other_pools_are_not_compared() -> None:
    rows = [stem_entry(2, ("judge", "policy", 1), "本单位的政策题目", [])]
    bank = [
        stem_entry(7, ("judge", "policy", 2), "本单位的政策题目", []),
        stem_entry(8, ("single", "policy", 1), "本单位的政策题目", []),
        stem_entry(9, ("judge", "theory", None), "本单位的政策题目", []),
    ]
    assert find_duplicates(rows, bank) == []


def test_each_row_reports_its_best_near_match() -> None:
    rows = [stem_entry(2, THEORY, "甲乙丙丁戊己庚辛壬癸子丑", [])]
    shorter, longer = "甲乙丙丁戊己庚辛壬癸子", "甲乙丙丁戊己庚辛壬癸子丑寅"
    bank = [stem_entry(4, THEORY, shorter, []), stem_entry(3, THEORY, longer, [])]
    (match,) = find_duplicates(rows, bank)
    assert (match.question_id, match.score) == (3, 96.0)  # 95.7 for question 4


def test_merged_characters_of_a_large_alphabet_never_make_a_false_match() -> None:
    characters = [chr(0x4E00 + n) for n in range(510)]
    # Codes n and n + 255 share one byte in the folded alphabet, so these two map to the same bytes.
    first, twin = "".join(characters[:50]), "".join(characters[255:305])
    fillers = ["".join(characters[50:255]), "".join(characters[305:])]
    assert list(similar_pairs([first, fillers[0]], [twin, fillers[1]])) == []
    assert list(similar_pairs([first], [first[:-1] + characters[400]])) == [(0, 0, 98.0)]


def test_empty_stems_match_nothing() -> None:
    assert list(similar_pairs(["", "甲乙"], ["", "甲乙"])) == [(1, 1, 100.0)]
