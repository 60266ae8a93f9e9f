"""Rosters as HR keeps them (issue 16, point 4): 职务与职级 mapped by one table, the title kept, unknown titles
named in row errors, and a template download beside the import."""

from __future__ import annotations

import io

import httpx2
import xlsxwriter
from python_calamine import CalamineWorkbook
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role
from app.org.models import Cadre, Rank
from app.org.titles import TITLE_RANKS, rank_of_title, title_table
from tests.factories import headers_for, make_unit

HR_TITLES = {"正处级": "chu", "副处级": "chu", "一级调研员": "chu", "正科级": "ke", "副科级": "ke", "科员": "ke",
             "副厅级": "ting", "一级巡视员": "ting", "四级主任科员": "ke", "二级巡视员": "ting",
             "副调研员": "chu"}  # fmt: skip


def roster(rows: list[list[object]], headers: tuple[str, ...] = ("姓名", "职务与职级", "工号")) -> bytes:
    buffer = io.BytesIO()
    with xlsxwriter.Workbook(buffer, {"in_memory": True}) as workbook:
        sheet = workbook.add_worksheet()
        for number, row in enumerate([list(headers), *rows]):
            sheet.write_row(number, 0, row)
    return buffer.getvalue()


async def post_roster(client: httpx2.AsyncClient, unit_id: int, headers: dict[str, str], content: bytes,
                      name: str = "roster.xlsx") -> httpx2.Response:  # fmt: skip
    return await client.post(f"/api/units/{unit_id}/cadres/import", files={"file": (name, content)}, headers=headers)


def test_the_table_maps_every_title_hr_writes() -> None:
    assert {title: rank_of_title(title) for title in HR_TITLES} == {t: Rank(r) for t, r in HR_TITLES.items()}
    assert rank_of_title(" 一级 调研员 ") == Rank.chu and rank_of_title("ＣＨＵ") == Rank.chu  # spacing, full width
    assert rank_of_title("处长") is None and rank_of_title("") is None
    assert set(TITLE_RANKS.values()) == set(Rank)


async def test_hr_titles_import_with_their_rank_and_keep_the_title(
    client: httpx2.AsyncClient, session: AsyncSession
) -> None:
    unit = await make_unit(session)
    headers = await headers_for(session, Role.unit_admin, unit_id=unit.id)
    rows: list[list[object]] = [[f"干部{n}", title, f"E{n}"] for n, title in enumerate(HR_TITLES)]
    response = await post_roster(client, unit.id, headers, roster(rows))
    assert response.status_code == 200, response.text
    assert response.json() == {"created": len(HR_TITLES), "updated": 0, "errors": []}
    cadres = (await client.get(f"/api/units/{unit.id}/cadres", headers=headers)).json()
    assert {c["title"]: c["rank"] for c in cadres} == HR_TITLES
    # a re-import with a promotion updates rank and title of the same cadre
    again = await post_roster(client, unit.id, headers, roster([["干部0", "正处级", "E0"]]), "roster.csv")
    assert again.status_code == 422  # an .xlsx named .csv is not CSV text
    promoted = await post_roster(client, unit.id, headers, roster([["干部0", "一级巡视员", "E0"]]))
    assert promoted.json() == {"created": 0, "updated": 1, "errors": []}
    cadre = await session.scalar(select(Cadre).where(Cadre.unit_id == unit.id, Cadre.employee_no == "E0"))
    assert cadre is not None and (cadre.rank, cadre.title) == ("ting", "一级巡视员")


async def test_unmapped_titles_are_row_errors_naming_the_value(
    client: httpx2.AsyncClient, session: AsyncSession
) -> None:
    unit = await make_unit(session)
    headers = await headers_for(session, Role.organiser)
    rows: list[list[object]] = [["甲", "正处级", "1"], ["乙", "处长", "2"], ["丙", "", "3"], ["丁", "高级工程师", "1"]]
    response = await post_roster(client, unit.id, headers, roster(rows))
    assert response.status_code == 422
    errors = [(e["row"], e["field"], e["message"]) for e in response.json()["errors"]]
    assert errors == [
        (3, "职务与职级", "职务与职级“处长”无法对应到厅级、处级或科级，请按导入模板“对照表”填写"),
        (4, "职务与职级", "职务与职级不能为空"),
        (5, "职务与职级", "职务与职级“高级工程师”无法对应到厅级、处级或科级，请按导入模板“对照表”填写"),
        (5, "工号", "工号 1 与第 2 行重复"),
    ]
    count = await session.scalar(select(func.count()).select_from(Cadre).where(Cadre.unit_id == unit.id))
    assert count == 0


async def test_the_old_rank_column_still_imports(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    unit = await make_unit(session)
    headers = await headers_for(session, Role.organiser)
    content = roster([["甲", "处级", ""], ["乙", "副科级", ""]], headers=("姓名", "职级", "工号"))
    assert (await post_roster(client, unit.id, headers, content)).json()["created"] == 2
    cadres = (await client.get(f"/api/units/{unit.id}/cadres", headers=headers)).json()
    assert [(c["rank"], c["title"]) for c in cadres] == [("chu", "处级"), ("ke", "副科级")]
    no_title = await post_roster(client, unit.id, headers, roster([["甲", "1"]], headers=("姓名", "工号")))
    assert no_title.status_code == 422
    assert no_title.json()["errors"][0]["field"] == "职务与职级"


async def test_the_template_downloads_beside_the_import_and_imports_back(
    client: httpx2.AsyncClient, session: AsyncSession
) -> None:
    unit, other = await make_unit(session), await make_unit(session)
    headers = await headers_for(session, Role.unit_admin, unit_id=unit.id)
    template = await client.get(f"/api/units/{unit.id}/cadres/template", headers=headers)
    assert template.status_code == 200
    assert template.headers["content-type"].startswith("application/vnd.openxmlformats")
    workbook = CalamineWorkbook.from_filelike(io.BytesIO(template.content))
    assert workbook.sheet_names == ["花名册", "对照表", "填写说明"]
    assert workbook.get_sheet_by_name("花名册").to_python()[0] == ["姓名", "职务与职级", "工号"]
    table = [tuple(row) for row in workbook.get_sheet_by_name("对照表").to_python()[1:]]
    assert table == title_table() and len(table) > 30
    imported = await post_roster(client, unit.id, headers, template.content)
    assert imported.json() == {"created": 3, "updated": 0, "errors": []}
    assert (await client.get(f"/api/units/{other.id}/cadres/template", headers=headers)).status_code == 403


async def test_a_cadre_created_with_a_title_must_match_its_rank(
    client: httpx2.AsyncClient, session: AsyncSession
) -> None:
    unit = await make_unit(session)
    headers = await headers_for(session, Role.organiser)
    url = f"/api/units/{unit.id}/cadres"
    ok = await client.post(url, json={"name": "甲", "rank": "chu", "title": "二级调研员"}, headers=headers)
    assert (ok.status_code, ok.json()["title"]) == (201, "二级调研员")
    wrong = await client.post(url, json={"name": "乙", "rank": "ke", "title": "二级调研员"}, headers=headers)
    assert wrong.status_code == 422
    assert wrong.json()["detail"][0]["loc"] == ["body", "title"]
    assert "属于处级" in wrong.json()["detail"][0]["msg"]
    patched = await client.patch(f"/api/cadres/{ok.json()['id']}", json={"rank": "ting"}, headers=headers)
    assert patched.status_code == 422
