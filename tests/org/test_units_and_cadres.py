import csv
import io

import httpx2
import xlsxwriter
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role
from app.org.models import Cadre
from tests.factories import headers_for, make_cadre, make_question, make_unit


async def test_create_and_list_units(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    headers = await headers_for(session, Role.organiser)
    response = await client.post(
        "/api/units", json={"code": "GTT", "name": "省国土厅", "headcount": 300}, headers=headers
    )
    assert response.status_code == 201, response.text
    assert response.json()["large"] is False
    again = await client.post("/api/units", json={"code": "GTT", "name": "重复", "headcount": 1}, headers=headers)
    assert again.status_code == 409
    listed = await client.get("/api/units", headers=headers)
    assert [u["code"] for u in listed.json()] == ["GTT"]


async def test_unit_validation(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    headers = await headers_for(session, Role.organiser)
    bad = await client.post("/api/units", json={"code": "X Y", "name": " ", "headcount": -1}, headers=headers)
    assert bad.status_code == 422
    fields = {tuple(e["loc"]) for e in bad.json()["detail"]}
    assert {("body", "code"), ("body", "headcount"), ("body", "name")} <= fields


async def test_only_organisers_create_units(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    for role in (Role.proctor, Role.unit_admin, Role.examinee, Role.supervisor):
        headers = await headers_for(session, role)
        response = await client.post("/api/units", json={"code": "Z", "name": "z", "headcount": 1}, headers=headers)
        assert response.status_code == 403


async def test_cadres_with_unique_employee_no_per_unit(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    unit, other = await make_unit(session), await make_unit(session)
    headers = await headers_for(session, Role.organiser)
    first = await client.post(
        f"/api/units/{unit.id}/cadres",
        json={"name": "王芳", "rank": "chu", "employee_no": "007"},
        headers=headers,
    )
    assert first.status_code == 201 and first.json()["rank"] == "chu"
    dup = await client.post(
        f"/api/units/{unit.id}/cadres",
        json={"name": "李四", "rank": "ke", "employee_no": "007"},
        headers=headers,
    )
    assert dup.status_code == 409
    elsewhere = await client.post(
        f"/api/units/{other.id}/cadres",
        json={"name": "李四", "rank": "ke", "employee_no": "007"},
        headers=headers,
    )
    assert elsewhere.status_code == 201
    bad_rank = await client.post(f"/api/units/{unit.id}/cadres", json={"name": "赵", "rank": "boss"}, headers=headers)
    assert bad_rank.status_code == 422 and "rank" in bad_rank.text
    listed = await client.get(f"/api/units/{unit.id}/cadres", headers=headers)
    assert [c["name"] for c in listed.json()] == ["王芳"]


async def test_unit_admin_sees_and_edits_only_his_unit(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    unit, other = await make_unit(session), await make_unit(session)
    headers = await headers_for(session, Role.unit_admin, unit_id=unit.id)
    assert (await client.get(f"/api/units/{unit.id}/cadres", headers=headers)).status_code == 200
    assert (await client.get(f"/api/units/{other.id}/cadres", headers=headers)).status_code == 403
    own = await client.post(f"/api/units/{unit.id}/cadres", json={"name": "甲", "rank": "ke"}, headers=headers)
    assert own.status_code == 201
    foreign = await client.post(f"/api/units/{other.id}/cadres", json={"name": "乙", "rank": "ke"}, headers=headers)
    assert foreign.status_code == 403


async def test_delete_rules_never_orphan(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    headers = await headers_for(session, Role.organiser)
    unit = await make_unit(session)
    cadre = await make_cadre(session, unit)
    assert (await client.delete(f"/api/units/{unit.id}", headers=headers)).status_code == 409
    assert (await client.delete(f"/api/cadres/{cadre.id}", headers=headers)).status_code == 204
    with_bank = await make_unit(session)
    await make_question(session, "single", "policy", with_bank.id)
    refused = await client.delete(f"/api/units/{with_bank.id}", headers=headers)
    assert refused.status_code == 409 and "不能删除" in refused.json()["detail"]
    assert (await client.delete(f"/api/units/{unit.id}", headers=headers)).status_code == 204
    assert (await client.get(f"/api/units/{with_bank.id}", headers=headers)).status_code == 200


async def test_update_unit_and_cadre(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    headers = await headers_for(session, Role.organiser)
    unit = await make_unit(session)
    cadre = await make_cadre(session, unit, rank="ke")
    unit_resp = await client.patch(f"/api/units/{unit.id}", json={"headcount": 999, "large": True}, headers=headers)
    assert unit_resp.json()["headcount"] == 999 and unit_resp.json()["large"] is True
    cadre_resp = await client.patch(
        f"/api/cadres/{cadre.id}", json={"rank": "chu", "is_active": False}, headers=headers
    )
    assert cadre_resp.json()["rank"] == "chu"
    listed = await client.get(f"/api/units/{unit.id}/cadres", headers=headers)
    assert listed.json() == []
    all_rows = await client.get(f"/api/units/{unit.id}/cadres", params={"include_inactive": True}, headers=headers)
    assert len(all_rows.json()) == 1


def roster_xlsx(rows: list[list[object]]) -> bytes:
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = workbook.add_worksheet()
    for r, row in enumerate([["姓名", "职级", "工号"], *rows]):
        for c, value in enumerate(row):
            sheet.write(r, c, value)
    workbook.close()
    return buffer.getvalue()


async def test_roster_import_xlsx_keeps_numbers_as_text(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    unit = await make_unit(session)
    headers = await headers_for(session, Role.organiser)
    content = roster_xlsx([["张三", "厅级", 1001], ["李四", "处级", "0042"], ["王五", "科级", None]])
    response = await client.post(
        f"/api/units/{unit.id}/cadres/import", headers=headers, files={"file": ("roster.xlsx", content)}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"created": 3, "updated": 0, "errors": []}
    cadres = (await client.get(f"/api/units/{unit.id}/cadres", headers=headers)).json()
    assert [(c["name"], c["rank"], c["employee_no"]) for c in cadres] == [
        ("张三", "ting", "1001"),
        ("李四", "chu", "0042"),
        ("王五", "ke", None),
    ]
    again = await client.post(
        f"/api/units/{unit.id}/cadres/import",
        headers=headers,
        files={"file": ("roster.xlsx", roster_xlsx([["张三丰", "处级", 1001]]))},
    )
    assert again.json() == {"created": 0, "updated": 1, "errors": []}


async def test_roster_import_is_all_or_nothing(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    unit = await make_unit(session)
    headers = await headers_for(session, Role.organiser)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerows(
        [
            ["姓名", "职级", "工号"],
            ["甲", "科级", "1"],
            ["", "处级", "2"],
            ["丙", "部级", "3"],
            ["丁", "科级", "1"],
        ]
    )
    response = await client.post(
        f"/api/units/{unit.id}/cadres/import",
        headers=headers,
        files={"file": ("roster.csv", buffer.getvalue().encode("gb18030"))},
    )
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert [(e["row"], e["field"]) for e in errors] == [(3, "姓名"), (4, "职级"), (5, "工号")]
    assert response.json()["detail"]["errors"] == errors
    count = await session.scalar(select(func.count()).select_from(Cadre).where(Cadre.unit_id == unit.id))
    assert count == 0


async def test_roster_import_rejects_missing_columns_and_bad_files(
    client: httpx2.AsyncClient, session: AsyncSession
) -> None:
    unit = await make_unit(session)
    headers = await headers_for(session, Role.organiser)
    missing = await client.post(
        f"/api/units/{unit.id}/cadres/import",
        headers=headers,
        files={"file": ("r.csv", "名字,级别\n甲,科级\n".encode())},
    )
    assert missing.status_code == 422 and {e["field"] for e in missing.json()["errors"]} == {"姓名", "职务与职级"}
    garbage = await client.post(
        f"/api/units/{unit.id}/cadres/import", headers=headers, files={"file": ("r.xlsx", b"not a workbook")}
    )
    assert garbage.status_code == 422 and garbage.json()["errors"][0]["field"] == "file"


async def test_duty_list(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    unit = await make_unit(session)
    headers = await headers_for(session, Role.unit_admin, unit_id=unit.id)
    put = await client.put(
        f"/api/units/{unit.id}/duties",
        json={"knowledge_points": ["不动产登记", " 耕地保护 ", "不动产登记"]},
        headers=headers,
    )
    assert put.json() == {"knowledge_points": ["不动产登记", "耕地保护"]}
    assert (await client.get(f"/api/units/{unit.id}/duties", headers=headers)).json() == put.json()
