"""Settings: `config/politely.toml` overlaid by `POLITELY_*` environment variables."""

from __future__ import annotations

import os
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_ROOT / "config" / "politely.toml"
DEV_SECRET = "politely-development-secret-change-me"  # noqa: S105 - refused outside development


class Settings(BaseSettings):
    """Everything Politely reads from its environment; see README "Configuration"."""

    model_config = SettingsConfigDict(env_prefix="POLITELY_", extra="ignore")

    env: Literal["development", "production"] = "development"
    config: Path = DEFAULT_CONFIG
    database_url: str = "sqlite:///./var/politely.db"
    smtp_url: str | None = None
    outbox_dir: Path = Path("./var/outbox")
    base_url: str = "http://localhost:8000"
    secret_key: str = DEV_SECRET
    test_clock: bool = False
    templates_dir: Path = PROJECT_ROOT / "templates" / "emails"
    tick_seconds: int = Field(default=60, ge=5)
    # Sender identity used until an organisation sets its own.
    mail_from_name: str = "Politely"
    mail_from_address: str = "reminders@localhost"
    inbound_domain: str | None = None
    # A reminder whose send never reported back is in doubt after this long.
    sending_lease_minutes: int = Field(default=15, ge=1)
    link_max_age_days: int = Field(default=120, ge=1)
    # Outgoing webhooks to loopback or private addresses: development and tests only.
    allow_private_webhooks: bool = False

    @field_validator("smtp_url")
    @classmethod
    def _blank_smtp_is_outbox(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _refuse_dev_secret_in_production(self) -> Settings:
        # Links that reach real customers must not be signed with a key everyone can read.
        host = urlsplit(self.base_url).hostname or ""
        if self.secret_key == DEV_SECRET and host not in ("localhost", "127.0.0.1", "::1"):
            raise ValueError(
                f"POLITELY_SECRET_KEY must be set when POLITELY_BASE_URL ({self.base_url}) "
                "is not this machine: it signs the links in customers' emails"
            )
        if self.env == "production" and self.secret_key == DEV_SECRET:
            raise ValueError("POLITELY_SECRET_KEY must be set to a long random value in production")
        if self.env == "production" and len(self.secret_key) < 32:
            raise ValueError("POLITELY_SECRET_KEY must be at least 32 characters in production")
        return self


def read_config_file(path: Path) -> dict[str, Any]:
    """The parsed TOML document; a missing file is an empty document."""
    if not path.exists():
        return {}
    with path.open("rb") as handle:
        return tomllib.load(handle)


def load_settings() -> Settings:
    """Environment wins over the `[settings]` table of the config file."""
    config_path = Path(os.environ.get("POLITELY_CONFIG", DEFAULT_CONFIG))
    file_values = read_config_file(config_path).get("settings", {})
    env_keys = {
        key.removeprefix("POLITELY_").lower() for key in os.environ if key.startswith("POLITELY_")
    }
    init = {key: value for key, value in file_values.items() if key not in env_keys}
    return Settings(config=config_path, **init)


@lru_cache
def get_settings() -> Settings:
    return load_settings()
