"""Civil-service titles (职务与职级) as HR rosters write them, mapped onto the exam's three ranks.

The exam reports and samples cadres by 厅级 / 处级 / 科级 (``Rank``). HR keeps each cadre's 职务层次
(leadership post level) or 职级 (rank of the 2019 parallel system, 《公务员职务与职级并行规定》), so the
roster import maps them here — this table is the only place the mapping lives. 科员 and 办事员 sit below
科级 and are counted with it (the exam has no lower group). A title not in the table is a row error that
names it; the title as written is kept on the cadre (``Cadre.title``).

* 厅级 (ting): 厅局级正职、厅局级副职 (正厅级、副厅级); 一级巡视员、二级巡视员 (before 2019: 巡视员、副巡视员).
* 处级 (chu): 县处级正职、县处级副职 (正处级、副处级); 一级至四级调研员 (before 2019: 调研员、副调研员).
* 科级 (ke): 乡科级正职、乡科级副职 (正科级、副科级); 一级至四级主任科员、一级科员、二级科员
  (before 2019: 主任科员、副主任科员); 科员、办事员.
"""

from __future__ import annotations

import unicodedata

from app.org.models import Rank

TITLE_RANKS: dict[str, Rank] = {
    # the three ranks themselves
    "厅级": Rank.ting, "处级": Rank.chu, "科级": Rank.ke, "ting": Rank.ting, "chu": Rank.chu, "ke": Rank.ke,
    # 职务层次
    "厅局级正职": Rank.ting, "厅局级副职": Rank.ting, "正厅级": Rank.ting, "副厅级": Rank.ting,
    "县处级正职": Rank.chu, "县处级副职": Rank.chu, "正处级": Rank.chu, "副处级": Rank.chu,
    "乡科级正职": Rank.ke, "乡科级副职": Rank.ke, "正科级": Rank.ke, "副科级": Rank.ke,
    # 职级 (2019)
    "一级巡视员": Rank.ting, "二级巡视员": Rank.ting,
    "一级调研员": Rank.chu, "二级调研员": Rank.chu, "三级调研员": Rank.chu, "四级调研员": Rank.chu,
    "一级主任科员": Rank.ke, "二级主任科员": Rank.ke, "三级主任科员": Rank.ke, "四级主任科员": Rank.ke,
    "一级科员": Rank.ke, "二级科员": Rank.ke,
    # non-leadership titles before 2019, still found in rosters
    "巡视员": Rank.ting, "副巡视员": Rank.ting, "调研员": Rank.chu, "副调研员": Rank.chu,
    "主任科员": Rank.ke, "副主任科员": Rank.ke, "科员": Rank.ke, "办事员": Rank.ke,
}  # fmt: skip

# Column headers HR uses for the title; the first one present is read.
TITLE_HEADERS = ("职务与职级", "职务职级", "职级", "职务层次", "职务")
MAX_TITLE_LENGTH = 32


def normalise_title(text: str) -> str:
    """The title as compared and stored: full-width forms folded (NFKC), white space removed."""
    return "".join(unicodedata.normalize("NFKC", text).split())


def rank_of_title(text: str) -> Rank | None:
    """The rank a title maps to, or None when the table does not know it."""
    title = normalise_title(text)
    return TITLE_RANKS.get(title) or TITLE_RANKS.get(title.lower())


def title_table() -> list[tuple[str, str]]:
    """(title, 厅级/处级/科级) for every title the table knows, for the roster template."""
    from app.org.models import RANK_LABELS

    return [(title, RANK_LABELS[rank]) for title, rank in TITLE_RANKS.items() if title not in Rank.__members__]
