from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.accounts.models import Role


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class UserBrief(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    roles: list[Role]
    unit_id: int | None = None
    display_name: str | None = None


class LoginResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_at: datetime
    user: UserBrief


def _unique_roles(roles: list[Role]) -> list[Role]:
    return sorted(set(roles), key=list(Role).index)


class UserCreate(BaseModel):
    username: str = Field(min_length=2, max_length=64, pattern=r"^[\w.@\-]+$")
    password: str = Field(min_length=8, max_length=256)
    roles: list[Role] = Field(min_length=1)
    unit_id: int | None = None
    display_name: str | None = Field(default=None, max_length=128)

    _roles = field_validator("roles")(_unique_roles)


class UserUpdate(BaseModel):
    roles: list[Role] | None = Field(default=None, min_length=1)
    unit_id: int | None = None
    display_name: str | None = Field(default=None, max_length=128)
    is_active: bool | None = None

    _roles = field_validator("roles")(lambda v: None if v is None else _unique_roles(v))


class PasswordReset(BaseModel):
    password: str = Field(min_length=8, max_length=256)


class PasswordChange(BaseModel):
    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=8, max_length=256)


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    display_name: str | None
    roles: list[Role]
    unit_id: int | None
    is_active: bool
    locked_until: datetime | None
    created_at: datetime


class AuditRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    actor_id: int | None
    action: str
    entity: str
    entity_id: str | None
    detail: dict[str, Any]
    created_at: datetime
