"""The `campaigner` command line.

Each command imports what it needs inside its body, so `campaigner --help` stays fast and a command
never pays for another's dependencies.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
import typer._click  # typer vendors click: its Context is what TyperGroup.invoke takes
from typer.core import TyperArgument, TyperCommand, TyperGroup
from typer.models import CommandFunctionType

from campaigner import __version__

if TYPE_CHECKING:
    from campaigner.campaign import CampaignConfig
    from campaigner.contacts import IngestSummary
    from campaigner.dialer.call_audit import CallAudit
    from campaigner.dialer.hang_up import HangUps
    from campaigner.dialer.runner import RunSummary
    from campaigner.preflight import Checklist
    from campaigner.retell import Call, RetellError
    from campaigner.settings import Settings
    from campaigner.store import Campaign, CampaignStatus, Engine, Session


class _OneLineErrors(TyperGroup):
    """The command line's one error contract, for every command (sub-commands too): an error
    campaigner raises on purpose (`CampaignerError`) or the database's is one line on stderr,
    anything else one line saying where its traceback was written; exit code 2 either way."""

    def invoke(self, ctx: typer._click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise  # the ends of a command and the usage errors, which typer reports itself
        except Exception as error:
            _fail(_explained(error))


class _PlainUsage(TyperCommand):
    """A command whose usage line names its arguments as README does: `CAMPAIGN_FILE`, or
    `[NAME]` when optional. typer writes a required argument as `{campaign_file}`, which reads
    as a placeholder left unfilled."""

    def collect_usage_pieces(self, ctx: typer._click.Context) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if not isinstance(param, TyperArgument):
                pieces += param.get_usage_pieces(ctx)
                continue
            name = str(param.name).upper() + ("..." if param.nargs != 1 else "")
            pieces.append(name if param.required else f"[{name}]")
        return pieces


class _Typer(typer.Typer):
    """campaigner's command groups: plain help (rich's markup ate every `[default: ...]` the
    help texts give, and showed each flag as `<bool>`), and `_PlainUsage` for every command."""

    def __init__(self, **settings: Any) -> None:
        super().__init__(rich_markup_mode=None, **settings)

    def command(
        self, name: str | None = None, **settings: Any
    ) -> Callable[[CommandFunctionType], CommandFunctionType]:
        return super().command(name, cls=_PlainUsage, **settings)


app = _Typer(
    cls=_OneLineErrors,
    name="campaigner",
    help="Batch outbound call campaigns for Retell AI voice agents.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """Batch outbound call campaigns for Retell AI voice agents."""


@app.command()
def version() -> None:
    """Print campaigner's version."""
    typer.echo(__version__)


def _fail(message: object) -> NoReturn:
    """One clear message on stderr, exit code 2, no traceback. A message quotes file names,
    Retell's answers and what people wrote: nothing in it may act on the terminal."""
    from campaigner.display_text import printable_lines

    typer.echo(f"error: {printable_lines(str(message))}", err=True)
    raise typer.Exit(2)


def _explained(error: Exception) -> str:
    """What went wrong, in the words of the one line a command prints."""
    from campaigner.errors import CampaignerError
    from campaigner.retell import RetellError
    from campaigner.store import CampaignNotFound, DatabaseError

    if isinstance(error, RetellError):
        return _retell_problem(error, _settings())
    if isinstance(error, CampaignNotFound):
        return f"{error} in the store at {_store_for_people()}"
    if isinstance(error, CampaignerError):
        return str(error)
    if isinstance(error, DatabaseError):
        reason = " ".join(str(getattr(error, "orig", None) or error).split())
        return f"the store at {_store_for_people()} failed: {reason}"
    return _unexpected(error)


def _retell_problem(error: RetellError, settings: Settings) -> str:
    """A Retell error in one line, with the likely fix where the error tells it."""
    from campaigner.retell import AuthenticationFailed, TransportError
    from campaigner.settings import RETELL_PRODUCTION_URL

    base_url = settings.resolved_base_url()
    if isinstance(error, TransportError):
        # Anywhere but production, an endpoint that does not answer is most often the simulator
        # not started (the default without a key).
        check_first = (
            "is this machine online (behind a proxy, is HTTPS_PROXY set)?"
            if base_url == RETELL_PRODUCTION_URL
            else "is the simulator running (`campaigner sim`)?"
        )
        return (
            f"cannot reach Retell at {base_url} ({error}): {check_first} is RETELL_BASE_URL right?"
        )
    if isinstance(error, AuthenticationFailed):
        key = (
            "the key in RETELL_API_KEY"
            if settings.retell_api_key is not None
            else "the simulator's demo key (RETELL_API_KEY is not set)"
        )
        return (
            f"Retell at {base_url} refused {key} ({error}): set RETELL_API_KEY to an API key of "
            "this workspace; is RETELL_BASE_URL right?"
        )
    return f"Retell at {base_url}: {error}"


def _store_for_people() -> str:
    """The configured store as messages name it (absolute path, no password)."""
    from campaigner.store import url_for_people

    return url_for_people(_settings().database_url)


def _unexpected(error: Exception) -> str:
    """A bug: its message on one line, and its full traceback in a file of the user's own
    (mode 0600), both without the API key."""
    import os
    import tempfile
    import traceback

    message = " ".join(_without_api_key(str(error)).split())
    try:
        written, path = tempfile.mkstemp(prefix="campaigner-traceback-", suffix=".txt")
        with os.fdopen(written, "w", encoding="utf-8") as file:
            file.write(_without_api_key("".join(traceback.format_exception(error))))
    except OSError as unwritable:  # a full or read-only temp folder: the one line still says it
        where = f"its traceback could not be written: {unwritable.strerror}"
    else:
        where = f"the full traceback is in {path}"
    return f"unexpected {type(error).__name__}: {message} ({where})"


def _without_api_key(text: str) -> str:
    """The text with the configured API key (as written, and as repr() escapes it) starred out."""
    import os

    from campaigner.settings import SettingsError, get_settings

    try:
        configured = get_settings().retell_api_key
        key = configured.get_secret_value() if configured else ""
    except SettingsError:  # the settings themselves are the problem: the key as given
        key = os.environ.get("RETELL_API_KEY", "")
    for written in {key, repr(key)[1:-1]} - {""}:
        text = text.replace(written, "***")
    return text


def _settings() -> Settings:
    """The process's settings, or one clear error naming the variable that is wrong."""
    from campaigner.settings import SettingsError, get_settings

    try:
        return get_settings()
    except SettingsError as error:
        _fail(f"invalid setting: {error}")


def _open_store(*, create: bool) -> Engine:
    """The store at CAMPAIGNER_DATABASE_URL, migrated to the newest schema; only the commands
    that start a project's work (`ingest`, `run`, `check`) may `create` a SQLite file."""
    from campaigner.store import open_store

    return open_store(_settings().database_url, create=create)


@contextmanager
def _store_transaction(*, create: bool = False) -> Iterator[Session]:
    """One unit of work (`store.transaction`) on the store (`_open_store`): committed when the
    block ends, rolled back if it raises."""
    from campaigner.store import transaction

    engine = _open_store(create=create)
    try:
        with transaction(engine) as session:
            yield session
    finally:
        engine.dispose()


@app.command()
def ingest(
    campaign_file: Annotated[Path, typer.Argument(help="The campaign file (YAML).")],
    contacts_file: Annotated[
        Path, typer.Argument(help="Contacts: .csv, .tsv or .txt (any common encoding) or .xlsx.")
    ],
    out_dir: Annotated[
        Path | None,
        typer.Option(
            help="Where the rejected rows and summary go [default: out/<campaign>/imports]."
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the summary as one JSON object.")
    ] = False,
) -> None:
    """Import a contacts file into a campaign: every row is accepted or rejected with a reason."""
    from campaigner.campaign import load_campaign
    from campaigner.contacts import ingest_contacts_file

    try:
        config = load_campaign(campaign_file)
        with _store_transaction(create=True) as session:
            summary = ingest_contacts_file(
                session=session,
                config=config,
                path=contacts_file,
                out_dir=out_dir or Path("out") / config.name / "imports",
            )
    except OSError as error:
        _fail(f"{error.filename}: {error.strerror}")
    if as_json:
        typer.echo(summary.model_dump_json())
    else:
        _print_ingest_summary(summary)


def _print_ingest_summary(summary: IngestSummary) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    name = Path(summary.file).name
    if summary.already_ingested:
        typer.echo(
            f"{name} was already imported into {summary.campaign} "
            f"(as {summary.first_ingested_as}, {summary.first_ingested_at:%Y-%m-%d %H:%M} UTC): "
            "nothing changed."
        )
        return
    typer.echo(f"{name} -> campaign {summary.campaign}")
    table = Table(show_header=False)
    table.add_column("what")
    table.add_column("rows", justify="right")
    table.add_row("rows read", str(summary.rows_read))
    table.add_row("accepted", str(summary.accepted), style="green")
    table.add_row("rejected", str(summary.rejected_total), style="red" if summary.rejected else "")
    for reason, count in summary.rejected.items():
        table.add_row(f"  {reason}", str(count))
    if summary.blank_rows:
        table.add_row("blank rows skipped", str(summary.blank_rows))
    console.print(table)
    if summary.rejected:
        typer.echo(f"Rejected rows, with the reason for each: {summary.rejected_file}")


dnc_app = _Typer(help="The do-not-call list: numbers no campaign ever dials.", no_args_is_help=True)
app.add_typer(dnc_app, name="dnc")

_REGION_OPTION = typer.Option(help="Region of numbers written without +country code.")
_REASON_OPTION = typer.Option(help="Why the numbers are on the list (kept with each entry).")


@dnc_app.command("import")
def dnc_import(
    file: Annotated[Path, typer.Argument(help="A .csv/.tsv/.txt or .xlsx file with a header row.")],
    reason: Annotated[str, _REASON_OPTION] = "do-not-call request",
    column: Annotated[
        str | None, typer.Option(help="The phone column [default: phone, phone number or number].")
    ] = None,
    region: Annotated[str, _REGION_OPTION] = "US",
) -> None:
    """Add every number of a file to the do-not-call list (exit 1 if some entries were invalid)."""
    from campaigner.contacts.dnc import read_dnc_file
    from campaigner.store import suppression

    entries = read_dnc_file(file, column=column, region=_region(region))
    with _store_transaction() as session:
        added = suppression.add(
            session=session,
            entries=[(number, reason, f"file:{file.name}") for number in entries.numbers],
        )
    already = len(entries.numbers) - added
    typer.echo(
        f"{file.name} ({entries.column!r}): {added} numbers added to the do-not-call list, "
        f"{already} already on it, {entries.repeated} repeated in the file, "
        f"{len(entries.invalid)} invalid."
    )
    for entry in entries.invalid:
        typer.echo(
            f"  row {entry.row_number}: {entry.cell!r} is not a valid number "
            f"({entry.reason}: {entry.detail})",
            err=True,
        )
    if entries.invalid:
        raise typer.Exit(1)


@dnc_app.command("add")
def dnc_add(
    number: Annotated[str, typer.Argument(help="The number, in any common writing.")],
    reason: Annotated[str, _REASON_OPTION] = "do-not-call request",
    region: Annotated[str, _REGION_OPTION] = "US",
) -> None:
    """Add one number to the do-not-call list."""
    from campaigner.store import suppression

    e164 = _e164(number, region)
    with _store_transaction() as session:
        added = suppression.add(session=session, entries=[(e164, reason, "cli")])
    typer.echo(f"{e164} added to the do-not-call list." if added else f"{e164} was already on it.")


@dnc_app.command("list")
def dnc_list() -> None:
    """Show the do-not-call list, oldest entries first."""
    from rich.console import Console
    from rich.table import Table

    from campaigner.display_text import for_rich
    from campaigner.store import suppression

    with _store_transaction() as session:
        entries = suppression.entries(session=session)
    if not entries:
        typer.echo("The do-not-call list is empty.")
        return
    table = Table("number", "reason", "source", "added (UTC)")
    for entry in entries:
        # The reason and the source (a file's name) are as people wrote them.
        table.add_row(
            entry.phone_e164,
            for_rich(entry.reason),
            for_rich(entry.source),
            f"{entry.created_at:%Y-%m-%d %H:%M}",
        )
    Console().print(table)


@dnc_app.command("remove")
def dnc_remove(
    number: Annotated[str, typer.Argument(help="The number, in any common writing.")],
    region: Annotated[str, _REGION_OPTION] = "US",
) -> None:
    """Take a number off the do-not-call list (exit 1 if it was not on it)."""
    from campaigner.store import suppression

    e164 = _e164(number, region)
    with _store_transaction() as session:
        removed = suppression.remove(session=session, number=e164)
    if not removed:
        typer.echo(f"{e164} was not on the do-not-call list.", err=True)
        raise typer.Exit(1)
    typer.echo(f"{e164} removed from the do-not-call list.")


def _region(text: str) -> str:
    import phonenumbers

    region = text.strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        _fail(f"--region {text!r} is not a region code such as US, CA or GB")
    return region


def _e164(number: str, region: str) -> str:
    from campaigner.contacts import normalise_number

    result = normalise_number(number, _region(region))
    if result.e164 is None:
        _fail(f"{number!r} is not a valid phone number ({result.reason}: {result.detail})")
    return result.e164


@app.command(
    # Every option is the simulator's own (`python -m retell_sim`): they and --help pass through.
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def sim(context: typer.Context) -> None:
    """Serve the Retell-compatible simulator (see docs/simulator.md) until Ctrl-C."""
    try:
        from retell_sim.cli import main
    except ModuleNotFoundError as error:
        if error.name != "retell_sim":
            raise
        # A plain `pip install .` has no simulator: it is a distribution of its own (README).
        _fail(
            "the Retell simulator is not installed; to install it, run "
            "`pip install ./src/retell_sim` in campaigner's source folder"
        )
    raise typer.Exit(main(context.args, prog="campaigner sim"))


@app.command()
def check(
    campaign_file: Annotated[Path, typer.Argument(help="The campaign file (YAML).")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the checklist as one JSON object.")
    ] = False,
) -> None:
    """Check a campaign against the Retell workspace before dialing: the API key, the numbers,
    the agents and their versions, concurrency, the window, retries and the contacts callable now.

    Exit 0 when nothing blocks a run, 2 when something does (each with its fix).
    """
    from campaigner import eventloop
    from campaigner.campaign import load_campaign
    from campaigner.dialer.clock import SystemClock
    from campaigner.preflight import check_and_remember
    from campaigner.retell import RetellClient

    settings = _settings()
    config = load_campaign(campaign_file)
    engine = _open_store(create=True)

    async def checklist_of(config: CampaignConfig) -> Checklist:
        async with RetellClient.from_settings(settings) as client:
            return await check_and_remember(config, client, engine, SystemClock())

    try:
        checklist = eventloop.run(checklist_of(config))
    finally:
        engine.dispose()
    _print_checklist(checklist, as_json=as_json)
    if not checklist.ok:
        raise typer.Exit(2)


def _print_checklist(checklist: Checklist, *, as_json: bool) -> None:
    from campaigner.preflight import checklist_lines

    typer.echo(checklist.model_dump_json() if as_json else "\n".join(checklist_lines(checklist)))


@app.command("run")
def run_campaign(
    campaign_file: Annotated[Path, typer.Argument(help="The campaign file (YAML).")],
    contacts: Annotated[
        Path | None, typer.Option(help="Import this contacts file first (as `ingest` does).")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the final summary as one JSON object.")
    ] = False,
    webhook_port: Annotated[
        int | None,
        typer.Option(
            help="Receive Retell's webhooks on this port (point the agent's webhook_url at "
            "http://<this host>:<port>/retell/webhook); results then arrive without polling."
        ),
    ] = None,
    webhook_host: Annotated[
        str, typer.Option(help="Interface the webhook receiver listens on.")
    ] = "127.0.0.1",
    recheck: Annotated[
        bool,
        typer.Option(
            help="Check the campaign against Retell (as `campaigner check`) even if this version "
            "of it passed within the last day."
        ),
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            help="Dial nobody and write nothing: say who would be dialed now and next, by group "
            "of timezones, in the recipients' local time."
        ),
    ] = False,
) -> None:
    """Dial the campaign until nothing is left to do now; show progress and a summary.

    Before the first dial the campaign is checked against Retell as `campaigner check` does
    (once per version of the file, endpoint and key a day); a failed check prints the
    checklist and exits 2 without dialing anyone.
    """
    from campaigner import eventloop
    from campaigner.campaign import load_campaign
    from campaigner.console import ProgressDisplay, print_run_summary
    from campaigner.contacts import ingest_contacts_file
    from campaigner.dialer.clock import SystemClock
    from campaigner.dialer.runner import CampaignRunner
    from campaigner.dialer.webhook_inbox import WebhookInbox, serve_webhook_inbox
    from campaigner.preflight import PreflightFailed, checked_before_dial
    from campaigner.retell import RetellClient
    from campaigner.store import transaction

    if dry_run and contacts is not None:
        _fail("--dry-run writes nothing: import the contacts with `campaigner ingest` first")
    settings = _settings()
    config = load_campaign(campaign_file)
    # A dry run writes nothing: not even a new store.
    engine = _open_store(create=not dry_run)
    try:
        if dry_run:
            _print_dry_run(engine, config, as_json=as_json)
            return
        if contacts is not None:
            with transaction(engine) as session:
                imported = ingest_contacts_file(
                    session=session,
                    config=config,
                    path=contacts,
                    out_dir=Path("out") / config.name / "imports",
                )
            if not as_json:
                _print_ingest_summary(imported)

        async def dial(webhooks: WebhookInbox | None = None) -> RunSummary:
            async with RetellClient.from_settings(settings) as client:
                await checked_before_dial(config, client, engine, SystemClock(), recheck=recheck)
                with ProgressDisplay() as display:
                    runner = CampaignRunner(
                        config=config,
                        engine=engine,
                        client=client,
                        on_progress=None if as_json else display,
                        webhooks=webhooks,
                    )
                    return await runner.run()

        async def dial_with_webhooks(port: int) -> RunSummary:
            key = settings.resolved_webhook_api_key()
            async with serve_webhook_inbox(
                webhook_api_key=key, host=webhook_host, port=port
            ) as inbox:
                if not as_json:
                    typer.echo(f"Receiving Retell webhooks at {inbox.url}", err=True)
                return await dial(inbox)

        dialing = dial() if webhook_port is None else dial_with_webhooks(webhook_port)
        summary = eventloop.run(dialing)
        next_calls = [] if as_json else _next_calls(engine, config)
    except PreflightFailed as failed:
        _print_checklist(failed.checklist, as_json=as_json)
        raise typer.Exit(2) from None
    except OSError as error:
        _fail(f"cannot receive webhooks on {webhook_host}:{webhook_port}: {error}")
    finally:
        engine.dispose()
    if as_json:
        typer.echo(summary.model_dump_json())
    else:
        print_run_summary(summary, next_calls=next_calls)


def _next_calls(engine: Engine, config: CampaignConfig) -> list[str]:
    """When the campaign's next calls go out, in the recipients' local time."""
    from campaigner.receipts import read_first_calls
    from campaigner.store import transaction, utcnow

    with transaction(engine) as session:
        return read_first_calls(session=session, config=config, now=utcnow())


def _print_dry_run(engine: Engine, config: CampaignConfig, *, as_json: bool) -> None:
    """Who `run` would dial now and next, by group of zones; nothing is written."""
    from campaigner.dialer.groups import CallableGroup
    from campaigner.store import campaigns, claims, transaction, utcnow

    now = utcnow()
    with transaction(engine) as session:
        found = campaigns.get_by_name(session=session, name=config.name)
        due = (
            {}
            if found is None or found.id is None
            else claims.due_by_zone_set(session=session, campaign_id=found.id, now=now)
        )
    if not as_json:
        typer.echo(f"campaign {config.name}, dry run: nobody is dialed")
        typer.echo("\n".join(_next_calls(engine, config)))
        return
    groups = [
        {
            "zones": list(zones),
            "due": counts.due,
            "waiting": counts.waiting,
            "next_callable_at": (
                moment.isoformat()
                if (moment := CallableGroup(zones).next_callable_at(config.window, now))
                else None
            ),
        }
        for zones, counts in sorted(due.items())
    ]
    typer.echo(json.dumps({"campaign": config.name, "now": now.isoformat(), "groups": groups}))


@app.command("test-call")
def call_yourself(
    campaign_file: Annotated[Path, typer.Argument(help="The campaign file (YAML).")],
    to: Annotated[str, typer.Option("--to", help="Your own phone number, to be called.")],
    contact: Annotated[
        int | None,
        typer.Option(
            help="The stored contact whose details the call carries (default: the first)."
        ),
    ] = None,
    region: Annotated[
        str, typer.Option(help="Region for a --to number without a country code.")
    ] = "US",
    wait: Annotated[
        bool, typer.Option(help="Wait for the call to end and print how it went.")
    ] = True,
) -> None:
    """Call your own phone as the campaign would call one of its contacts: the contact's dynamic
    variables, its variant's agent and the campaign's first caller ID. Outside the campaign:
    nothing is counted, and no run or audit takes it for one of the campaign's calls."""
    from campaigner import eventloop
    from campaigner.campaign import load_campaign
    from campaigner.dialer.clock import SystemClock
    from campaigner.dialer.test_call import place_test_call, wait_for_end
    from campaigner.preflight import PreflightFailed, checked_before_dial
    from campaigner.retell import RetellClient
    from campaigner.store import campaigns, contacts, transaction

    to_number = _e164(to, region)
    settings = _settings()
    config = load_campaign(campaign_file)
    # The contact comes from the store: a test call never creates one.
    engine = _open_store(create=False)
    try:
        with transaction(engine) as session:
            found = campaigns.get_by_name(session=session, name=config.name)
            chosen = (
                None
                if found is None or found.id is None
                else contacts.get(session=session, contact_id=contact)
                if contact is not None
                else contacts.first_of_campaign(session=session, campaign_id=found.id)
            )
        if found is None or chosen is None or chosen.campaign_id != found.id:
            _fail(
                f"campaign {config.name} has no contact {contact}"
                if contact is not None
                else f"campaign {config.name} has no contacts yet: import some first"
            )

        async def call_and_wait() -> tuple[Call, Call | None]:
            async with RetellClient.from_settings(settings) as client:
                clock = SystemClock()
                await checked_before_dial(config, client, engine, clock)
                placed = await place_test_call(
                    config=config, client=client, contact=chosen, to_number=to_number
                )
                typer.echo(
                    f"calling {to_number} from {config.from_numbers[0]} as contact "
                    f"{chosen.id} of {config.name} (call {placed.call_id})"
                )
                if not wait:
                    return placed, None
                return placed, await wait_for_end(
                    client=client, clock=clock, call_id=placed.call_id, timeout=TEST_CALL_WAIT
                )

        placed, ended = eventloop.run(call_and_wait())
    except PreflightFailed as failed:
        _print_checklist(failed.checklist, as_json=False)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    if wait:
        typer.echo(_test_call_outcome(placed.call_id, ended))


TEST_CALL_WAIT = 15 * 60.0
"""Seconds `test-call` waits for the call to end and its analysis to come."""


def _test_call_outcome(call_id: str, ended: Call | None) -> str:
    from campaigner.display_text import printable

    if ended is None:
        return f"call {call_id} had not ended after {TEST_CALL_WAIT / 60:.0f} minutes"
    analysis = ended.call_analysis
    verdict = (
        ""
        if analysis is None
        else f"; successful: {'yes' if analysis.call_successful else 'no'}"
        + (f"; summary: {printable(analysis.call_summary)}" if analysis.call_summary else "")
    )
    return f"call {call_id} ended: {ended.disconnection_reason or ended.call_status}{verdict}"


@app.command("report")
def report(
    name: Annotated[str, typer.Argument(help="The campaign's name (the `name:` in its file).")],
    out: Annotated[
        Path | None,
        typer.Option(
            help="Directory for the files, beside the campaign's imports.",
            # As text: typer would print None. (Brackets in the help are markup, and vanish.)
            show_default="out/<campaign>/reports",
        ),
    ] = None,
    formats: Annotated[
        list[str] | None,
        typer.Option(
            "--format",
            help="csv, xlsx, parquet, html or json; repeat for several.",
            show_default="all",
        ),
    ] = None,
) -> None:
    """Write a campaign's report: CSV/XLSX/Parquet exports, report.html and summary.json."""
    from campaigner.reports import ReportFormat, default_report_dir, export_report

    known = [report_format.value for report_format in ReportFormat]
    unknown = [given for given in formats or [] if given.lower() not in known]
    if unknown:
        _fail(f"--format {unknown[0]!r} is not one of {', '.join(known)}")
    chosen = [ReportFormat(given.lower()) for given in formats or known]
    out_dir = out or default_report_dir(name)
    engine = _open_store(create=False)
    try:
        exported = export_report(engine, name, out_dir, chosen)
    except OSError as error:
        _fail(f"cannot write the report to {out_dir}: {error.strerror}")
    finally:
        engine.dispose()
    typer.echo(f"Report of campaign {name} written to {exported.directory}:")
    for path in exported.files:
        typer.echo(f"  {path}")
    for failure in exported.failures:
        typer.echo(f"error: {failure}", err=True)
    if exported.failures:
        raise typer.Exit(2)


@app.command()
def serve(
    inbox: Annotated[
        Path | None,
        typer.Option(help="The inbox folder [default: $CAMPAIGNER_INBOX, else inbox]."),
    ] = None,
    host: Annotated[str, typer.Option(help="Where a local Prefect server listens.")] = "127.0.0.1",
    port: Annotated[
        int,
        typer.Option(
            help="Port of a local Prefect server (its API and UI; the only port serve listens on)."
        ),
    ] = 4200,
    watch_every: Annotated[
        float,
        typer.Option(
            min=1, help="Seconds between watch-inbox runs, and between looks at campaigns/."
        ),
    ] = 60,
) -> None:
    """Serve the Prefect deployments with their schedules (docs/flows.md) until Ctrl-C.

    watch-inbox every minute, run-campaign every 5 minutes per campaign file, export-report nightly.
    Campaign files added or removed while it runs are served or paused at the next look.
    Without PREFECT_API_URL, a local Prefect server is started first and stopped on exit; its
    database and log stay in ./.prefect/ (unless PREFECT_HOME is set).
    """
    import os

    from campaigner.serving import serve_deployments

    _settings()  # an invalid setting is one error here, not a traceback from the child process
    env = dict(os.environ)
    args = ["--watch-every", str(watch_every)]
    if inbox is not None:
        args += ["--inbox", str(inbox.resolve())]
    # The dialer's own warnings (a sync that failed, a breaker that tripped) in the flow run logs.
    env.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "campaigner")
    code = serve_deployments(env=env, args=args, host=host, port=port, say=typer.echo)
    raise typer.Exit(code)


@contextmanager
def _status_change(
    name: str, status: CampaignStatus, reason: str | None
) -> Iterator[tuple[Session, Campaign]]:
    """Change a campaign's status in a unit of work the block may add to (committed when it
    ends)."""
    from campaigner import store

    with _store_transaction() as session:
        campaign = store.campaigns.set_status(
            session=session, name=name, status=status, reason=reason
        )
        yield session, campaign


def _set_status(name: str, status: CampaignStatus, reason: str | None) -> None:
    with _status_change(name, status, reason) as (_, campaign):
        said = f"campaign {campaign.name} is {campaign.status.value}."
    typer.echo(said)


_NAME_ARGUMENT = typer.Argument(help="The campaign's name (the `name:` in its file).")


@app.command()
def pause(
    name: Annotated[str, _NAME_ARGUMENT],
    reason: Annotated[str, typer.Option(help="Why, kept with the status.")] = "paused by hand",
) -> None:
    """Stop dialing a campaign; calls in progress finish and their results still come home."""
    from campaigner.store import CampaignStatus

    _set_status(name, CampaignStatus.PAUSED, reason)


@app.command()
def resume(name: Annotated[str, _NAME_ARGUMENT]) -> None:
    """Let a paused (or completed) campaign dial again, starting its run at once.

    Under `campaigner serve` (or with PREFECT_API_URL set), a run of its `run-campaign`
    deployment is started now rather than at its next scheduled run (up to 5 minutes later).
    """
    from campaigner.serving import ServeError, served_api_url, start_campaign_run
    from campaigner.store import CampaignStatus

    _set_status(name, CampaignStatus.ACTIVE, None)
    api_url = served_api_url()
    how_to_dial = f"`campaigner run {_settings().campaigns_dir / name}.yaml` dials it now"
    if api_url is None:
        typer.echo(f"No `campaigner serve` runs here and PREFECT_API_URL is unset: {how_to_dial}.")
        return
    try:
        run = start_campaign_run(api_url, name)
    except ServeError as error:
        # The campaign is active all the same: its next scheduled run dials it.
        typer.echo(f"No run started ({error}); {how_to_dial}.", err=True)
        return
    typer.echo(f"started flow run {run} of run-campaign/{name}: dialing begins within seconds.")


@app.command()
def cancel(
    name: Annotated[str, _NAME_ARGUMENT],
    reason: Annotated[str, typer.Option(help="Why, kept with the status.")] = "cancelled by hand",
    hang_up: Annotated[
        bool,
        typer.Option(
            "--hang-up",
            help="Also end the campaign's calls in progress now; their results still come home "
            "with the next run.",
        ),
    ] = False,
) -> None:
    """End a campaign for good: contacts not yet dialed are cancelled; calls in progress finish,
    unless --hang-up ends them too."""
    from campaigner import store
    from campaigner.store import CampaignStatus

    if not hang_up:
        _set_status(name, CampaignStatus.CANCELLED, reason)
        return
    # Cancelled first, and committed: no run dials another call while these are stopped.
    with _status_change(name, CampaignStatus.CANCELLED, reason) as (session, campaign):
        assert campaign.id is not None  # set_status returns a stored campaign
        call_ids = store.attempts.live_call_ids(session=session, campaign_id=campaign.id)
    hung_up = _hang_up(name, call_ids)
    typer.echo(
        f"cancelled {name}; hung up {hung_up.stopped} live calls "
        f"({hung_up.already_ended} had already ended)"
    )


def _hang_up(name: str, call_ids: Sequence[str]) -> HangUps:
    """Stop the calls at Retell; a failure is one error that says the campaign is cancelled all
    the same and how to stop the calls left."""
    from campaigner import eventloop
    from campaigner.dialer.hang_up import hang_up_calls
    from campaigner.retell import RetellClient, RetellError

    settings = _settings()

    async def stop_calls() -> HangUps:
        async with RetellClient.from_settings(settings) as client:
            return await hang_up_calls(client, call_ids)

    try:
        return eventloop.run(stop_calls())
    except RetellError as error:
        _fail(
            f"campaign {name} is cancelled, but its calls in progress were not all hung up: "
            f"{_retell_problem(error, settings)}; to try again, run "
            f"`campaigner cancel {name} --hang-up`"
        )


@app.command()
def status(
    name: Annotated[
        str | None, typer.Argument(help="One campaign's name; every campaign if left out.")
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print one JSON object: the store read and its campaigns."),
    ] = False,
) -> None:
    """Where each campaign stands: contacts, outcomes, attempts, cost, next callable time.

    In batch mode also each batch's tasks submitted, dialed, connected and finished.
    """
    import json

    from rich.console import Console

    from campaigner.status import campaign_overviews, print_overviews
    from campaigner.store import utcnow

    with _store_transaction() as session:
        overviews = campaign_overviews(session=session, name=name, now=utcnow())
    # Which store was read: the default is a file of the folder the command runs from.
    store = _store_for_people()
    if as_json:
        campaigns = [overview.model_dump(mode="json") for overview in overviews]
        typer.echo(json.dumps({"store": store, "campaigns": campaigns}))
    else:
        typer.echo(f"store: {store}")
        print_overviews(overviews, Console())


@app.command()
def audit(
    name: Annotated[str, _NAME_ARGUMENT],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the audit as one JSON object.")
    ] = False,
) -> None:
    """Check exactly once against Retell: every call of the campaign at Retell is on exactly one
    attempt, and every attempt with a call has exactly that one. Exit 1 on any mismatch."""
    from campaigner import eventloop
    from campaigner.dialer.call_audit import audit_calls
    from campaigner.retell import RetellClient

    settings = _settings()
    engine = _open_store(create=False)

    async def compare() -> CallAudit:
        async with RetellClient.from_settings(settings) as client:
            return await audit_calls(client=client, engine=engine, campaign=name)

    try:
        result = eventloop.run(compare())
    finally:
        engine.dispose()
    if as_json:
        typer.echo(result.model_dump_json())
    else:
        _print_call_audit(result)
    if not result.exactly_once:
        raise typer.Exit(1)


def _print_call_audit(result: CallAudit) -> None:
    typer.echo(
        f"{result.campaign}: {result.calls_at_retell} calls at Retell, "
        f"{result.attempts_with_a_call} attempts with a call in the store"
    )
    problems: dict[str, list[str]] = {
        "calls at Retell on no attempt": result.calls_without_attempt,
        "attempts whose call Retell does not have": [
            str(attempt) for attempt in result.attempts_whose_call_is_missing
        ],
        "attempts with more than one call": [
            f"{attempt} ({', '.join(calls)})"
            for attempt, calls in result.attempts_with_several_calls.items()
        ],
    }
    for what, items in problems.items():
        if items:
            typer.echo(f"✗ {len(items)} {what}: {', '.join(items[:20])}")
    if result.second_calls_recorded:
        typer.echo(f"  ({result.second_calls_recorded} second calls recorded on flagged rows)")
    if result.exactly_once:
        typer.echo("✓ exactly once: every call is on one attempt, every attempt has one call")


def main() -> None:
    """Entry point for `python -m campaigner`."""
    app()
