"""The `campaigner` command line.

Each command imports what it needs inside its body, so `campaigner --help` stays fast and a command
never pays for another's dependencies.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
import typer._click  # typer vendors click: its Context is what TyperGroup.invoke takes
from typer.core import TyperGroup

from campaigner import __version__

if TYPE_CHECKING:
    from campaigner.campaign import CampaignConfig
    from campaigner.contacts import IngestSummary
    from campaigner.dialer.call_audit import CallAudit
    from campaigner.dialer.hang_up import HangUps
    from campaigner.dialer.runner import RunSummary
    from campaigner.preflight import Checklist
    from campaigner.settings import Settings
    from campaigner.store import Campaign, CampaignStatus, Session


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


app = typer.Typer(
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
    from campaigner.store import DatabaseError

    if isinstance(error, RetellError):
        return f"Retell at {_settings().resolved_base_url()}: {error}"
    if isinstance(error, CampaignerError):
        return str(error)
    if isinstance(error, DatabaseError):
        return f"the database failed: {getattr(error, 'orig', None) or error}"
    return _unexpected(error)


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


@contextmanager
def _store_transaction() -> Iterator[Session]:
    """One unit of work (`store.transaction`) on the store at CAMPAIGNER_DATABASE_URL, migrated
    to the newest schema: committed when the block ends, rolled back if it raises."""
    from campaigner.store import make_engine, transaction, upgrade_database

    engine = make_engine(_settings().database_url)
    try:
        upgrade_database(engine)
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
        with _store_transaction() as session:
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


dnc_app = typer.Typer(
    help="The do-not-call list: numbers no campaign ever dials.", no_args_is_help=True
)
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
    from campaigner.store import make_engine, upgrade_database

    settings = _settings()
    engine = make_engine(settings.database_url)

    async def checklist_of(config: CampaignConfig) -> Checklist:
        async with RetellClient.from_settings(settings) as client:
            return await check_and_remember(config, client, engine, SystemClock())

    try:
        config = load_campaign(campaign_file)
        upgrade_database(engine)
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
    from campaigner.store import make_engine, transaction, upgrade_database

    settings = _settings()
    engine = make_engine(settings.database_url)
    try:
        config = load_campaign(campaign_file)
        upgrade_database(engine)
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
        print_run_summary(summary)


@app.command("report")
def report(
    name: Annotated[str, typer.Argument(help="The campaign's name (the `name:` in its file).")],
    out: Annotated[
        Path | None, typer.Option(help="Directory for the files [default: reports/<campaign>].")
    ] = None,
    formats: Annotated[
        list[str] | None,
        typer.Option(
            "--format",
            help="csv, xlsx, parquet, html or json; repeat for several [default: all].",
        ),
    ] = None,
) -> None:
    """Write a campaign's report: CSV/XLSX/Parquet exports, report.html and summary.json."""
    from campaigner.reports import ReportFormat, export_report
    from campaigner.store import make_engine, upgrade_database

    known = [report_format.value for report_format in ReportFormat]
    unknown = [given for given in formats or [] if given.lower() not in known]
    if unknown:
        _fail(f"--format {unknown[0]!r} is not one of {', '.join(known)}")
    chosen = [ReportFormat(given.lower()) for given in formats or known]
    out_dir = out or Path("reports") / name
    engine = make_engine(_settings().database_url)
    try:
        upgrade_database(engine)
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
        typer.Option(help="The inbox folder (default: $CAMPAIGNER_INBOX, else ./inbox)."),
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
    ends); an unknown campaign or a change not allowed is one clear error."""
    from campaigner import store
    from campaigner.store import StoreError

    try:
        with _store_transaction() as session:
            campaign = store.campaigns.set_status(
                session=session, name=name, status=status, reason=reason
            )
            yield session, campaign
    except StoreError as error:
        _fail(error)


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
            f"Retell at {settings.resolved_base_url()}: {error}; to try again, run "
            f"`campaigner cancel {name} --hang-up`"
        )


@app.command()
def status(
    name: Annotated[
        str | None, typer.Argument(help="One campaign's name; every campaign if left out.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help='Print one JSON object: {"campaigns": [...]}.')
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
    if as_json:
        campaigns = [overview.model_dump(mode="json") for overview in overviews]
        typer.echo(json.dumps({"campaigns": campaigns}))
    else:
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
    from campaigner.store import make_engine, upgrade_database

    settings = _settings()
    engine = make_engine(settings.database_url)

    async def compare() -> CallAudit:
        async with RetellClient.from_settings(settings) as client:
            return await audit_calls(client=client, engine=engine, campaign=name)

    try:
        upgrade_database(engine)
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
