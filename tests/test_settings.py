from __future__ import annotations

import pytest

from campaigner.retell import RetellClient
from campaigner.settings import (
    RETELL_PRODUCTION_URL,
    SIMULATOR_DEFAULT_URL,
    SIMULATOR_DEMO_API_KEY,
    Settings,
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "RETELL_API_KEY",
        "RETELL_WEBHOOK_API_KEY",
        "RETELL_BASE_URL",
        "CAMPAIGNER_DATABASE_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir("/")  # no stray .env


def test_defaults_talk_to_the_simulator_with_its_demo_key() -> None:
    settings = Settings()
    assert settings.uses_simulator
    assert settings.resolved_base_url() == SIMULATOR_DEFAULT_URL
    assert settings.resolved_api_key().get_secret_value() == SIMULATOR_DEMO_API_KEY
    assert settings.database_url == "sqlite:///campaigner.db"


def test_a_key_alone_means_the_real_retell(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETELL_API_KEY", "key_real_secret")
    settings = Settings()
    assert not settings.uses_simulator
    assert settings.resolved_base_url() == RETELL_PRODUCTION_URL
    assert "key_real_secret" not in repr(settings)
    assert "key_real_secret" not in str(settings.model_dump())


def test_base_url_override_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETELL_API_KEY", "key_real_secret")
    monkeypatch.setenv("RETELL_BASE_URL", "http://127.0.0.1:9999/")
    settings = Settings()
    assert settings.resolved_base_url() == "http://127.0.0.1:9999"
    client = RetellClient.from_settings(settings)
    assert "key_real_secret" not in repr(client)
    assert client.base_url == "http://127.0.0.1:9999"


def test_database_url_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAMPAIGNER_DATABASE_URL", "postgresql://postgres@127.0.0.1/test")
    assert Settings().database_url == "postgresql://postgres@127.0.0.1/test"


def test_webhooks_are_checked_with_the_api_key_unless_a_webhook_key_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().resolved_webhook_api_key().get_secret_value() == SIMULATOR_DEMO_API_KEY
    monkeypatch.setenv("RETELL_API_KEY", "key_real_secret")
    assert Settings().resolved_webhook_api_key().get_secret_value() == "key_real_secret"


def test_the_webhook_key_is_its_own_setting_and_never_shown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RETELL_API_KEY", "key_real_secret")
    monkeypatch.setenv("RETELL_WEBHOOK_API_KEY", "key_webhook_badge_secret")
    settings = Settings()
    assert settings.resolved_webhook_api_key().get_secret_value() == "key_webhook_badge_secret"
    # API calls keep the API key.
    assert settings.resolved_api_key().get_secret_value() == "key_real_secret"
    assert "key_webhook_badge_secret" not in repr(settings)
    assert "key_webhook_badge_secret" not in str(settings.model_dump())
