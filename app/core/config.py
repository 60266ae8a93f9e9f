"""Settings read from ``EXAMBANK_*`` environment variables (and an optional ``.env``)."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import Field, IPvAnyNetwork, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEVELOPMENT_SECRET = "exambank-development-secret-change-me"  # noqa: S105 - refused outside development


class Settings(BaseSettings):
    # hide_input_in_errors: a settings error must not print the values it was given (passwords, secrets).
    model_config = SettingsConfigDict(
        env_prefix="EXAMBANK_", env_file=".env", extra="ignore", hide_input_in_errors=True
    )

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite:///exambank.db"
    # PostgreSQL connections per process, a fixed pool (requests beyond it queue): size it to the
    # server's max_connections divided by the number of worker processes.
    db_pool_size: int = 20
    # The database URL names a connection pooler in transaction mode (PgBouncer pool_mode=transaction):
    # no prepared statement or cache outlives a transaction (app.core.db.postgresql_connect_args).
    db_transaction_pooler: bool = False
    # How long a request waits for a pooled connection before it is answered 503 with Retry-After.
    db_pool_timeout_seconds: float = Field(default=120, gt=0)
    # At start-up, PostgreSQL connections this server needs (workers × pool) beyond what the database can
    # give: "refuse" stops with a message, "warn" logs it, "off" skips the check.
    db_budget_check: Literal["refuse", "warn", "off"] = "refuse"
    secret_key: SecretStr = SecretStr(DEVELOPMENT_SECRET)
    admin_username: str | None = None
    admin_password: SecretStr | None = None

    session_ttl_hours: int = 12
    login_max_failures: int = 5
    login_lockout_minutes: int = 15

    save_grace_seconds: int = 10
    # The proxies in front of the servers (addresses or networks, separated by commas: "127.0.0.1,
    # 10.0.0.0/24"), compared with a request's TCP peer. From them only, a request counts as arrived when
    # the proxy stamped it (X-Request-Start: t=<epoch seconds>; bounded by this server's clock and 60 s
    # before it, app.core.arrival) and X-Forwarded-For names the client in the logs; the sweeper then
    # waits those 60 s more. Empty (the default): nobody is trusted, the server's clock decides.
    trusted_proxies: Annotated[tuple[IPvAnyNetwork, ...], NoDecode] = ()
    sweep_interval_seconds: float = 5.0
    run_sweeper: bool = True
    event_cap_per_attempt: int = 200

    docs_enabled: bool = False  # /docs and /openapi.json in production (always on elsewhere)

    log_level: str = "INFO"
    log_json: bool = False

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_trusted_proxies(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        if self.environment == "production" and self.secret_key.get_secret_value() == DEVELOPMENT_SECRET:
            raise ValueError("EXAMBANK_SECRET_KEY must be set to a secret of your own in production")
        if self.environment == "production" and len(self.secret_key.get_secret_value()) < 32:
            raise ValueError("EXAMBANK_SECRET_KEY must be at least 32 characters in production")
        return self


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
