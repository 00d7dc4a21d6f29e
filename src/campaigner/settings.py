"""Process-wide configuration, read once from the environment (and an optional `.env`).

Without `RETELL_API_KEY` and `RETELL_BASE_URL`, campaigner talks to the local Retell simulator with
its demo key; with `RETELL_API_KEY` set and no base-URL override, it talks to the real Retell API.
Retell signs webhooks with the workspace's webhook key, which need not be the API key:
`RETELL_WEBHOOK_API_KEY` when they differ.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from campaigner.errors import CampaignerError

RETELL_PRODUCTION_URL = "https://api.retellai.com"
SIMULATOR_DEFAULT_HOST = "127.0.0.1"
SIMULATOR_DEFAULT_PORT = 8765
SIMULATOR_DEFAULT_URL = f"http://{SIMULATOR_DEFAULT_HOST}:{SIMULATOR_DEFAULT_PORT}"
# Not a secret: the simulator accepts it by default so the demo needs no configuration.
SIMULATOR_DEMO_API_KEY = "key_campaigner_simulator"


_HEADER_VALUE_RE = re.compile(r"[!-~]+")
"""Printable ASCII without spaces: what an API key sent in a header may hold."""


def api_key_problem(key: SecretStr) -> str | None:
    """Why a key cannot be sent, in words that never show it; None when it can."""
    # The key is sent in an HTTP header, which httpx encodes as ASCII: a key with a stray
    # character pasted along would fail every request with a UnicodeEncodeError.
    if _HEADER_VALUE_RE.fullmatch(key.get_secret_value()):
        return None
    return (
        "is not printable ASCII (the characters Retell's keys are made of): "
        "look for a character pasted with it"
    )


class Settings(BaseSettings):
    """Environment configuration. Field names map to the variables in the README."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    retell_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("RETELL_API_KEY", "retell_api_key")
    )
    # Retell signs webhooks only with the key marked with the webhook badge in its dashboard, which
    # need not be the key API calls use; unset, it is taken to be the API key.
    retell_webhook_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("RETELL_WEBHOOK_API_KEY", "retell_webhook_api_key"),
    )
    retell_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("RETELL_BASE_URL", "retell_base_url")
    )
    database_url: str = Field(
        default="sqlite:///campaigner.db",
        validation_alias=AliasChoices("CAMPAIGNER_DATABASE_URL", "database_url"),
    )
    inbox: Path = Field(
        default=Path("inbox"), validation_alias=AliasChoices("CAMPAIGNER_INBOX", "inbox")
    )
    campaigns_dir: Path = Field(
        default=Path("campaigns"),
        validation_alias=AliasChoices("CAMPAIGNER_CAMPAIGNS_DIR", "campaigns_dir"),
    )

    @field_validator("retell_api_key")
    @classmethod
    def _key_fits_a_header(cls, key: SecretStr | None) -> SecretStr | None:
        problem = api_key_problem(key) if key is not None else None
        if problem is not None:
            raise ValueError(problem)
        return key

    @property
    def uses_simulator(self) -> bool:
        """True when no real key is configured and no explicit endpoint was chosen."""
        return self.retell_api_key is None and self.retell_base_url is None

    def resolved_base_url(self) -> str:
        """The Retell endpoint: an override, else production with a key, else the simulator."""
        if self.retell_base_url:
            return self.retell_base_url.rstrip("/")
        if self.retell_api_key is not None:
            return RETELL_PRODUCTION_URL
        return SIMULATOR_DEFAULT_URL

    def resolved_api_key(self) -> SecretStr:
        """The key to send: the configured one, else the simulator's demo key."""
        return self.retell_api_key or SecretStr(SIMULATOR_DEMO_API_KEY)

    def resolved_webhook_api_key(self) -> SecretStr:
        """The key webhooks are checked with: the workspace's webhook key, else the API key."""
        return self.retell_webhook_api_key or self.resolved_api_key()


class SettingsError(CampaignerError, ValueError):
    """An environment variable (or `.env` entry) campaigner cannot use, named in the message."""


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read on first use; `SettingsError` when one is invalid."""
    try:
        return Settings()
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}"
            for problem in error.errors(include_url=False, include_input=False)
        )
        raise SettingsError(problems) from None
