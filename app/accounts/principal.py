"""Who is calling: a small immutable value, cheaper than an ORM object on every request."""

from __future__ import annotations

from dataclasses import dataclass

from app.accounts.models import Role


@dataclass(frozen=True, slots=True)
class Principal:
    id: int
    username: str
    roles: frozenset[Role]
    unit_id: int | None
    session_digest: str

    def has_any(self, *roles: Role) -> bool:
        return Role.admin in self.roles or any(role in self.roles for role in roles)

    @property
    def is_examinee_only(self) -> bool:
        return self.roles == frozenset({Role.examinee})

    def can_manage_unit(self, unit_id: int, *roles: Role) -> bool:
        """Holders of ``roles`` act on every unit; a unit admin only on his own."""
        return self.has_any(*roles) or (Role.unit_admin in self.roles and self.unit_id == unit_id)
