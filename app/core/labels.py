"""Chinese names of the identifiers that messages a person reads mention: roles and exam states.

The domains keep their own enums; this module only names their values (plain strings, so every layer can
use it without importing the domains above core).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

ROLE_NAMES = {
    "admin": "系统管理员",
    "bank_editor": "题库管理员",
    "organiser": "考务",
    "proctor": "监考",
    "unit_admin": "单位管理员",
    "supervisor": "督导",
    "examinee": "考生",
}

EXAM_STATUS_NAMES = {
    "draft": "草稿",
    "drawn": "已抽卷",
    "open": "进行中",
    "closed": "已结束",
    "published": "已公布",
}


def role_names(roles: Iterable[str]) -> str:
    """``organiser, proctor`` → ``考务、监考``."""
    return "、".join(ROLE_NAMES.get(str(role), str(role)) for role in roles)


def needs_roles(roles: Iterable[str]) -> str:
    """The refusal for a user who has none of ``roles``."""
    return f"此操作需要以下角色之一：{role_names(roles)}"


def exam_status_name(status: str) -> str:
    return EXAM_STATUS_NAMES.get(str(status), str(status))


# Every exambank user sits in China: times a person reads (exports, notices) are Beijing time.
LOCAL_TIMEZONE = ZoneInfo("Asia/Shanghai")


def local_time_text(moment: datetime | None) -> str | None:
    """``2026-12-03T01:30:00+00:00`` → ``2026-12-03 09:30:00`` (Beijing time)."""
    return moment.astimezone(LOCAL_TIMEZONE).strftime("%Y-%m-%d %H:%M:%S") if moment is not None else None
