"""What the flows share: the store, the Retell credentials, the output folders, transient errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, cast

from prefect.blocks.system import Secret
from pydantic import Field, SecretStr

from campaigner.reports import default_report_dir
from campaigner.retell import RateLimited, ServerError, TransportError
from campaigner.settings import Settings, SettingsError, api_key_problem, get_settings
from campaigner.store import Engine, OperationalError, make_engine, upgrade_database

__all__ = [
    "DIAL_TASK_RETRIES",
    "FILE_TASK_RETRIES",
    "KEY_SETTING",
    "OUT_DIR",
    "RETELL_SECRET_BLOCK",
    "RETELL_WEBHOOK_SECRET_BLOCK",
    "CampaignName",
    "artifact_key",
    "imports_dir",
    "is_transient",
    "reports_dir",
    "retell_settings",
    "retry_if_transient",
    "store_engine",
]

RETELL_SECRET_BLOCK = "retell-api-key"  # noqa: S105 -- the block's name, not a key
"""The Prefect Secret block holding the Retell API key; without it the environment's key is used."""

RETELL_WEBHOOK_SECRET_BLOCK = "retell-webhook-api-key"  # noqa: S105 -- the block's name, not a key
"""The Prefect Secret block holding the workspace's webhook key (the API key with the webhook badge
in Retell's dashboard, the one that signs webhooks); without it RETELL_WEBHOOK_API_KEY, else the
API key."""

KEY_SETTING = f"the {RETELL_SECRET_BLOCK!r} Secret block (or, without one, RETELL_API_KEY)"
"""Where a run's API key comes from, as a failed key check names it."""

OUT_DIR = Path("out")
"""Where import results and reports go, per campaign (as `campaigner ingest` does)."""

CampaignName = Annotated[
    str,
    Field(
        pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$",
        description="The campaign's name: campaigns/<name>.yaml and inbox/<name>/.",
    ),
]

# Worth another try: Retell overloaded or unreachable, and the store's connection failing.
# Not an API key Retell refuses, a billing stop or a bad campaign file: those fail at once.
_TRANSIENT_ERRORS = (ServerError, TransportError, RateLimited, OperationalError)


def imports_dir(campaign: str) -> Path:
    """Where the rejected rows and summaries of a campaign's imports go."""
    return OUT_DIR / campaign / "imports"


def reports_dir(campaign: str) -> Path:
    """Where a campaign's report files go: where `campaigner report` writes them too."""
    return default_report_dir(campaign, OUT_DIR)


def artifact_key(campaign: str, what: str) -> str:
    """An artifact key (lowercase letters, digits and dashes only) for a campaign."""
    return f"campaign-{campaign.replace('_', '-')}-{what}"


@contextmanager
def store_engine() -> Iterator[Engine]:
    """An engine on the store at CAMPAIGNER_DATABASE_URL, migrated to the newest schema."""
    engine = make_engine(get_settings().database_url)
    try:
        upgrade_database(engine)
        yield engine
    finally:
        engine.dispose()


async def retell_settings() -> Settings:
    """The settings, with the keys of the `retell-api-key` and `retell-webhook-api-key` Secret
    blocks where they exist (each block missing: the environment's key, as `Settings` resolves
    it)."""
    keys = {
        "retell_api_key": await _secret_block_value(RETELL_SECRET_BLOCK),
        "retell_webhook_api_key": await _secret_block_value(RETELL_WEBHOOK_SECRET_BLOCK),
    }
    found = {field: key for field, key in keys.items() if key is not None}
    return get_settings().model_copy(update=found)


async def _secret_block_value(name: str) -> SecretStr | None:
    """The value of the Secret block `name`, or None when there is no such block."""
    try:
        block = cast("Secret[str]", await Secret.aload(name))
    except ValueError:  # no such block
        return None
    key = SecretStr(str(block.get()))
    problem = api_key_problem(key)
    if problem is not None:
        raise SettingsError(f"the {name!r} Secret block {problem}")
    return key


def is_transient(error: BaseException) -> bool:
    """Whether a failure may pass by itself (Retell's 5xx/429/transport, the store unreachable)."""
    return isinstance(error, _TRANSIENT_ERRORS)


async def retry_if_transient(task: Any, task_run: Any, state: Any) -> bool:
    """A task's `retry_condition_fn`: retry transient failures only."""
    try:
        await state.aresult()
    except BaseException as error:
        return is_transient(error)
    return False


FILE_TASK_RETRIES: dict[str, Any] = {
    "retries": 2,
    "retry_delay_seconds": [5, 30],
    "retry_condition_fn": retry_if_transient,
}
"""Task options for a file's import or a report: two more tries on transient failures."""

DIAL_TASK_RETRIES: dict[str, Any] = {
    "retries": 3,
    "retry_delay_seconds": [10, 30, 60],
    "retry_condition_fn": retry_if_transient,
}
"""Task options for a dialing run: three more tries on transient failures, further apart."""
