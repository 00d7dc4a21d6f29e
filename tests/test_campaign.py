"""Campaign files: loading, defaults, every validation message, and the YAML 1.1 traps."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from campaigner.campaign import (
    DEFAULT_VARIANT,
    FINAL_OUTCOMES,
    CampaignConfig,
    CampaignFileError,
    OutcomeClass,
    Weekday,
    format_duration,
    load_campaign,
    parse_campaign,
    parse_duration,
)

CAMPAIGNS = Path(__file__).resolve().parents[1] / "campaigns"

MINIMAL: dict[str, Any] = {
    "name": "spring-recall",
    "agent": {"agent_id": "agent_abc"},
    "from_numbers": ["+14155550100"],
    "columns": {"phone": "Phone"},
}


def write_campaign(tmp_path: Path, data: object, name: str = "x.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def with_changes(**changes: Any) -> dict[str, Any]:
    return {**MINIMAL, **changes}


def load_error(tmp_path: Path, data: object) -> str:
    path = write_campaign(tmp_path, data)
    with pytest.raises(CampaignFileError) as raised:
        load_campaign(path)
    return str(raised.value).replace(f"{path}: ", "x.yaml: ")


# --- the shipped campaign files -------------------------------------------------------------------


def test_demo_campaign_splits_two_agents_evenly_at_any_hour() -> None:
    config = load_campaign(CAMPAIGNS / "demo.yaml")

    variants = config.agent_variants()
    assert [(v.name, v.agent_id, v.weight) for v in variants] == [
        ("A", "agent_campaigner_demo", 0.5),
        ("B", "agent_campaigner_demo_b", 0.5),
    ]
    assert config.from_numbers == ["+14155550100", "+14155550101"]
    assert config.columns.phone == "Phone"
    assert config.columns.timezone == "Time Zone"
    assert config.columns.external_id == "Customer ID"
    assert config.columns.dynamic_variables == {
        "first_name": "First Name",
        "appointment_date": "Appointment Date",
        "appointment_time": "Appointment Time",
        "clinic": "Clinic",
    }
    assert config.columns.metadata == ["Customer ID"]
    assert config.window.allows(datetime(2026, 1, 4, 3, 0, tzinfo=ZoneInfo("Pacific/Honolulu")))


def test_example_campaign_keeps_federal_hours_and_overrides_only_what_it_sets() -> None:
    config = load_campaign(CAMPAIGNS / "example-dental-reminders.yaml")

    assert not config.window.allow_outside_federal_hours
    assert config.window.start == time(9)
    assert config.window.end == time(19, 30)
    assert config.agent_variants()[0].name == DEFAULT_VARIANT
    assert config.agent_variants()[0].version == 4
    voicemail = config.retry.rule_for(OutcomeClass.VOICEMAIL)
    assert (voicemail.max_attempts, voicemail.delay) == (1, timedelta(days=1))
    declined = config.retry.rule_for(OutcomeClass.DECLINED)
    assert (declined.retry, declined.delay) == (False, timedelta(days=1))
    assert config.numbers.allowed_countries == ["US", "CA"]


# --- defaults and behaviour -----------------------------------------------------------------------


def test_minimal_campaign_gets_documented_defaults(tmp_path: Path) -> None:
    config = load_campaign(write_campaign(tmp_path, MINIMAL))

    assert config.mode == "direct"
    assert config.batch.size == 500
    assert config.batch.reserved_concurrency == 0
    assert config.numbers.default_region == "US"
    assert config.numbers.allowed_countries is None
    assert not config.numbers.mobile_only
    assert config.window.days == [Weekday.MON, Weekday.TUE, Weekday.WED, Weekday.THU, Weekday.FRI]
    assert (config.window.start, config.window.end) == (time(9), time(20))
    assert config.caps.max_attempts_per_contact == 3
    assert config.caps.max_calls_per_number_per_24h == 3
    assert config.caps.max_concurrency is None
    assert config.caps.calls_per_second == 1.0
    assert config.budget_cents is None
    assert not config.fetch_transcripts
    assert not config.mask_numbers_in_exports
    assert config.analysis_timeout == timedelta(minutes=10)


def test_default_retry_policy_suits_telemarketing() -> None:
    retry = CampaignConfig.model_validate(MINIMAL).retry

    assert retry.rule_for(OutcomeClass.NO_ANSWER).delay == timedelta(hours=4)
    assert retry.rule_for(OutcomeClass.BUSY).delay == timedelta(minutes=30)
    assert retry.rule_for(OutcomeClass.VOICEMAIL).delay == timedelta(days=1)
    assert retry.rule_for(OutcomeClass.TRANSIENT_FAILURE).delay == timedelta(minutes=10)
    capacity = retry.rule_for(OutcomeClass.CAPACITY)
    assert capacity.retry
    assert capacity.delay == timedelta(minutes=1)
    assert not capacity.counts_as_attempt
    assert not retry.rule_for(OutcomeClass.CONNECTED_UNSUCCESSFUL).retry


@pytest.mark.parametrize("outcome", sorted(FINAL_OUTCOMES))
def test_final_outcomes_are_never_retried(outcome: OutcomeClass) -> None:
    assert outcome.is_final
    assert not CampaignConfig.model_validate(MINIMAL).retry.rule_for(outcome).retry


def test_every_retryable_outcome_has_a_rule() -> None:
    retry = CampaignConfig.model_validate(MINIMAL).retry
    retryable = [
        outcome for outcome in OutcomeClass if not outcome.is_final and outcome.is_about_contact
    ]

    assert list(retry.root) == retryable


def test_a_rule_in_the_file_overrides_only_its_keys_and_only_its_class() -> None:
    default = CampaignConfig.model_validate(MINIMAL).retry
    retry = CampaignConfig.model_validate(
        with_changes(retry={"busy": {"delay": "20m"}, "voicemail": {"max_attempts": 1}})
    ).retry

    assert retry.rule_for(OutcomeClass.BUSY) == default.rule_for(OutcomeClass.BUSY).model_copy(
        update={"delay": timedelta(minutes=20)}
    )
    assert retry.rule_for(OutcomeClass.VOICEMAIL).max_attempts == 1
    assert retry.rule_for(OutcomeClass.VOICEMAIL).delay == timedelta(days=1)
    untouched = set(OutcomeClass) - {OutcomeClass.BUSY, OutcomeClass.VOICEMAIL}
    assert all(retry.rule_for(outcome) == default.rule_for(outcome) for outcome in untouched)


def test_variant_weights_are_normalised_and_looked_up_by_name() -> None:
    config = CampaignConfig.model_validate(
        with_changes(
            agent=None,
            variants=[
                {"name": "control", "agent_id": "agent_a", "weight": 3},
                {"name": "friendly", "agent_id": "agent_b", "version": "latest", "weight": 1},
            ],
        )
    )

    assert [v.weight for v in config.agent_variants()] == [0.75, 0.25]
    assert config.variant_named("friendly").version == "latest"
    with pytest.raises(KeyError, match="no variant 'other'"):
        config.variant_named("other")


def test_window_allows_only_listed_days_hours_and_non_holidays() -> None:
    config = CampaignConfig.model_validate(
        with_changes(window={"holidays": ["2026-03-04"], "holiday_calendar": "us"})
    )
    window = config.window
    new_york = ZoneInfo("America/New_York")

    assert window.holiday_calendar == "US"
    assert window.allows(datetime(2026, 3, 3, 9, 0, tzinfo=new_york))  # a Tuesday at opening
    assert not window.allows(datetime(2026, 3, 3, 8, 59, tzinfo=new_york))
    assert not window.allows(datetime(2026, 3, 3, 20, 0, tzinfo=new_york))  # end is exclusive
    assert not window.allows(datetime(2026, 3, 7, 12, 0, tzinfo=new_york))  # Saturday
    assert not window.allows(datetime(2026, 3, 4, 12, 0, tzinfo=new_york))  # listed holiday
    assert not window.allows(datetime(2026, 7, 3, 12, 0, tzinfo=new_york))  # July 4th observed


def test_days_accept_full_names_in_any_case() -> None:
    config = CampaignConfig.model_validate(with_changes(window={"days": ["Monday", "SAT"]}))

    assert config.window.days == [Weekday.MON, Weekday.SAT]


def test_phone_takes_one_header_or_a_list_tried_in_order(tmp_path: Path) -> None:
    one = load_campaign(write_campaign(tmp_path, MINIMAL))
    several = load_campaign(
        write_campaign(
            tmp_path,
            with_changes(columns={"phone": ["Mobile Phone Number", "Phone Number"]}),
            name="several.yaml",
        )
    )

    assert (one.columns.phone, one.columns.phone_columns) == ("Phone", ("Phone",))
    assert several.columns.phone_columns == ("Mobile Phone Number", "Phone Number")
    assert CampaignConfig.model_validate(several.model_dump(mode="json")) == several


def test_stored_config_round_trips_and_its_fingerprint_ignores_comments(tmp_path: Path) -> None:
    text = (CAMPAIGNS / "example-dental-reminders.yaml").read_text(encoding="utf-8")
    config = parse_campaign(text)
    without_comments = "\n".join(line.split(" #")[0] for line in text.splitlines())

    assert CampaignConfig.model_validate(config.model_dump(mode="json")) == config
    assert parse_campaign(without_comments).config_sha256() == config.config_sha256()
    changed = parse_campaign(text.replace("max_concurrency: 10", "max_concurrency: 11"))
    assert changed.config_sha256() != config.config_sha256()


def test_yaml_11_traps_do_not_change_values(tmp_path: Path) -> None:
    text = (
        "name: trap\nagent: {agent_id: agent_x}\nfrom_numbers: ['+14155550100']\n"
        "columns: {phone: Phone}\nnumbers: {allowed_countries: [NO, SE]}\n"
        "window: {start: 9:30, end: 17:45}\n"
    )

    config = parse_campaign(text)

    assert config.numbers.allowed_countries == ["NO", "SE"]
    assert (config.window.start, config.window.end) == (time(9, 30), time(17, 45))


# --- durations ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("4h", timedelta(hours=4)),
        ("1d", timedelta(days=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        (" 2D 12H ", timedelta(days=2, hours=12)),
        ("45s", timedelta(seconds=45)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "4", "4 hours", "h", "1m1h", "-5m", "1.5h"])
def test_parse_duration_rejects_what_it_cannot_read(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


@given(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=400)))
def test_format_duration_round_trips_whole_seconds(value: timedelta) -> None:
    whole = timedelta(seconds=int(value.total_seconds()))

    assert parse_duration(format_duration(whole)) == whole


# --- every way a file can be wrong ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            with_changes(window={"start": "25:00"}),
            "x.yaml: window.start: '25:00' is not a time HH:MM",
        ),
        (with_changes(windw={}), "x.yaml: windw: unknown key (did you mean 'window'?)"),
        (
            with_changes(window={"strat": "09:00"}),
            "x.yaml: window.strat: unknown key (did you mean 'start'?)",
        ),
        (
            with_changes(speed="fast"),
            "x.yaml: speed: unknown key (expected one of: name, description, agent, variants, "
            "from_numbers, mode, batch, columns, numbers, window, retry, caps, priority, "
            "budget_cents, fetch_transcripts, mask_numbers_in_exports, analysis_timeout)",
        ),
        ({k: v for k, v in MINIMAL.items() if k != "columns"}, "x.yaml: columns: is required"),
        (
            with_changes(name="Spring Recall"),
            "x.yaml: name: string should match pattern '^[a-z0-9][a-z0-9_-]{0,63}$' "
            "(got 'Spring Recall')",
        ),
        (
            with_changes(variants=[{"name": "a", "agent_id": "agent_b", "weight": 1}]),
            "x.yaml: give exactly one of `agent` (one agent) or `variants` (A/B test)",
        ),
        (
            with_changes(agent=None),
            "x.yaml: give exactly one of `agent` (one agent) or `variants` (A/B test)",
        ),
        (
            with_changes(
                agent=None,
                variants=[
                    {"name": "a", "agent_id": "agent_1", "weight": 1},
                    {"name": "a", "agent_id": "agent_2", "weight": 1},
                ],
            ),
            "x.yaml: variants: variant names must be unique: a repeated",
        ),
        (
            with_changes(agent=None, variants=[{"name": "a", "agent_id": "agent_1", "weight": 0}]),
            "x.yaml: variants[0].weight: input should be greater than 0 (got 0)",
        ),
        (
            with_changes(agent={"agent_id": "agent_1", "version": "not a tag"}),
            "x.yaml: agent.version: 'not a tag' is not an agent version "
            "(a number, or a tag such as 'latest')",
        ),
        (
            with_changes(from_numbers=["+1 415 555 0100"]),
            "x.yaml: from_numbers[0]: '+1 415 555 0100' is not written in E.164: "
            "write '+14155550100'",
        ),
        (
            with_changes(from_numbers=["(415) 555-0100"]),
            "x.yaml: from_numbers[0]: '(415) 555-0100' is not an E.164 number like '+14155550100'",
        ),
        (
            with_changes(from_numbers=["+1415555"]),
            "x.yaml: from_numbers[0]: '+1415555' is not a valid phone number",
        ),
        (
            with_changes(from_numbers=[]),
            "x.yaml: from_numbers: list should have at least 1 item after validation, not 0",
        ),
        (
            with_changes(from_numbers=["+14155550100", "+14155550100"]),
            "x.yaml: from_numbers: a number is listed twice",
        ),
        (
            with_changes(window={"start": "12:00", "end": "11:00"}),
            "x.yaml: window: window.end 11:00 must be after window.start",
        ),
        (
            with_changes(window={"start": "07:30"}),
            "x.yaml: window: 07:30-20:00 goes outside the federal telemarketing hours "
            "08:00-21:00; narrow the window or set allow_outside_federal_hours: true "
            "(for calls that are not telemarketing)",
        ),
        (
            with_changes(window={"days": ["mon", "funday"]}),
            "x.yaml: window.days: 'funday' is not a day (mon, tue, wed, thu, fri, sat, sun)",
        ),
        (
            with_changes(window={"days": ["mon", "Monday"]}),
            "x.yaml: window.days: a day is listed twice",
        ),
        (
            with_changes(window={"holiday_calendar": "ZZ"}),
            "x.yaml: window.holiday_calendar: 'ZZ' is not a country code the holidays "
            "package knows",
        ),
        (
            with_changes(window={"holiday_calendar": "US-XX"}),
            "x.yaml: window.holiday_calendar: 'US-XX': 'XX' is not a subdivision of US",
        ),
        (
            with_changes(window={"holidays": ["next tuesday"]}),
            "x.yaml: window.holidays[0]: input should be a valid date or datetime, "
            "invalid character in year (got 'next tuesday')",
        ),
        (
            with_changes(retry={"success": {"retry": True}}),
            "x.yaml: retry: 'success' is a final outcome: it is never retried",
        ),
        (
            with_changes(retry={"no_answer": {"delay": "4 hours"}}),
            "x.yaml: retry.no_answer.delay: '4 hours' is not a duration like "
            "'30m', '4h', '1d' or '1h30m'",
        ),
        (
            with_changes(retry={"busy": {"delay": "0m"}}),
            "x.yaml: retry.busy: delay must be longer than zero when retry is true",
        ),
        (
            with_changes(retry={"busy": {"dealy": "5m"}}),
            "x.yaml: retry.busy.dealy: unknown key (did you mean 'delay'?)",
        ),
        (
            with_changes(retry={"noanswer": {"delay": "3h"}}),
            "x.yaml: retry.noanswer: unknown key (did you mean 'no_answer'?)",
        ),
        (
            with_changes(retry={"xyzzy": {"delay": "3h"}}),
            "x.yaml: retry.xyzzy: unknown key (expected one of: no_answer, busy, voicemail, "
            "declined, transient_failure, capacity, connected_unsuccessful, callback_requested)",
        ),
        (
            with_changes(retry={"busy": 5}),
            "x.yaml: retry.busy: input should be a valid dictionary or instance of RetryRule "
            "(got 5)",
        ),
        (
            with_changes(caps={"max_attempts_per_contact": 0}),
            "x.yaml: caps.max_attempts_per_contact: input should be greater than or equal to 1 "
            "(got 0)",
        ),
        (
            with_changes(caps={"calls_per_second": "fast"}),
            "x.yaml: caps.calls_per_second: input should be a valid number, unable to parse "
            "string as a number (got 'fast')",
        ),
        (
            with_changes(numbers={"default_region": "XX"}),
            "x.yaml: numbers.default_region: 'XX' is not an ISO 3166 alpha-2 region code known "
            "to phonenumbers",
        ),
        (
            with_changes(columns={"phone": "Phone", "dynamic_variables": {"first name": "F"}}),
            "x.yaml: columns.dynamic_variables: 'first name' is not a variable name "
            "(letters, digits and _)",
        ),
        (
            with_changes(columns={"phone": " "}),
            "x.yaml: columns.phone: ' ' is not a column header",
        ),
        (
            with_changes(columns={"phone": ["Mobile", 7]}),
            "x.yaml: columns.phone: 7 is not a column header",
        ),
        (
            with_changes(columns={"phone": []}),
            "x.yaml: columns.phone: an empty list names no phone column; give at least one header",
        ),
        (
            with_changes(mode="turbo"),
            "x.yaml: mode: input should be 'direct' or 'batch' (got 'turbo')",
        ),
        (
            with_changes(analysis_timeout=10),
            "x.yaml: analysis_timeout: 10 is not a duration like '30m', '4h', '1d' or '1h30m'",
        ),
        (["name", "x"], "x.yaml: must be a mapping of campaign fields, not a list"),
    ],
)
def test_invalid_campaigns_say_file_field_and_problem(
    tmp_path: Path, data: object, message: str
) -> None:
    assert load_error(tmp_path, data) == message


def test_several_problems_are_reported_one_per_line(tmp_path: Path) -> None:
    data = with_changes(window={"start": "25:00"}, caps={"max_concurrency": 0})

    assert load_error(tmp_path, data).splitlines() == [
        "x.yaml: window.start: '25:00' is not a time HH:MM",
        "x.yaml: caps.max_concurrency: input should be greater than or equal to 1 (got 0)",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "name: [unclosed\n",
            "x.yaml: line 2, column 1: expected ',' or ']', but got '<stream end>'",
        ),
        ("", "x.yaml: the file is empty"),
        ("name: a\nname: b\n", "x.yaml: line 2, column 1: duplicate key 'name'"),
    ],
)
def test_unreadable_yaml_says_where(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(CampaignFileError) as raised:
        load_campaign(path)

    assert str(raised.value) == message.replace("x.yaml", str(path))


def test_missing_file_directory_and_binary_file_are_clear_errors(tmp_path: Path) -> None:
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00name")

    for path, problem in [
        (tmp_path / "absent.yaml", "no such campaign file"),
        (tmp_path, "is a directory, not a campaign file"),
        (binary, "is not UTF-8 text"),
    ]:
        with pytest.raises(CampaignFileError) as raised:
            load_campaign(path)
        assert str(raised.value) == f"{path}: {problem}"


def test_a_window_outside_federal_hours_is_allowed_when_asked() -> None:
    config = CampaignConfig.model_validate(
        with_changes(
            window={"start": "00:00", "end": "23:59", "allow_outside_federal_hours": True},
        )
    )

    assert config.window.allows(datetime(2026, 3, 3, 23, 58, tzinfo=ZoneInfo("UTC")))
    assert config.window.allows(datetime(2026, 3, 3, 0, 0, tzinfo=ZoneInfo("UTC")))


# --- absurd and hostile files (issue 19): every one is a CampaignFileError naming the key ---------

MINIMAL_YAML = yaml.safe_dump(MINIMAL, sort_keys=False)


def parse_error(text: str) -> str:
    with pytest.raises(CampaignFileError) as raised:
        parse_campaign(text, source="x.yaml")
    return str(raised.value)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "caps: {max_calls_per_number_per_24h: " + "9" * 5000 + "}",
            "x.yaml: caps.max_calls_per_number_per_24h: '99999999999999999999…' (5000 characters) "
            "is too large a number (the largest is 9223372036854775807)",
        ),
        (
            "budget_cents: 99999999999999999999",
            "x.yaml: budget_cents: '99999999999999999999' is too large a number "
            "(the largest is 9223372036854775807)",
        ),
        (
            "analysis_timeout: 99999999999999999999d",
            "x.yaml: analysis_timeout: '99999999999999999999d' is longer than 3650d, "
            "the longest duration a campaign file may give",
        ),
        (
            "retry: {busy: {delay: 3651d}}",
            "x.yaml: retry.busy.delay: '3651d' is longer than 3650d, "
            "the longest duration a campaign file may give",
        ),
        (
            "caps: {99999999999999999999: 1}",
            "x.yaml: caps: '99999999999999999999' is too large a number "
            "(the largest is 9223372036854775807)",
        ),
        (
            "window: {holidays: [2026-02-30]}",
            "x.yaml: window.holidays[0]: '2026-02-30' cannot be read: "
            "day is out of range for month",
        ),
    ],
)
def test_numbers_durations_and_dates_out_of_range_name_their_key(line: str, message: str) -> None:
    assert parse_error(f"{MINIMAL_YAML}{line}\n") == message


@pytest.mark.parametrize(
    ("nested", "where"),
    [
        ("description: " + "[" * 5000 + "]" * 5000, "line 8, column 63"),
        (
            "description:\n" + "".join(f"{'  ' * depth}- \n" for depth in range(300)),
            "line 58, column 99",
        ),
    ],
)
def test_nesting_too_deep_is_an_error_with_its_place(nested: str, where: str) -> None:
    assert parse_error(f"{MINIMAL_YAML}{nested}\n") == (
        f"x.yaml: {where}: nested more than 50 levels deep"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "a" * 1_000_001,
            "x.yaml: 1,000,001 characters is too long for a campaign file (at most 1,000,000)",
        ),
        (
            f"{MINIMAL_YAML}window: {{days: !!set {{mon: null}}}}\n",
            "x.yaml: line 8, column 16: the tag tag:yaml.org,2002:set is not allowed in a "
            "campaign file",
        ),
        (
            f'{MINIMAL_YAML}window: {{"\\r\\n[red]": 1}}\n',
            "x.yaml: window['\\r\\n[red]']: unknown key (expected one of: days, start, end, "
            "allow_outside_federal_hours, holidays, holiday_calendar)",
        ),
    ],
)
def test_huge_files_tags_and_made_up_keys_are_one_line_errors(text: str, message: str) -> None:
    assert parse_error(text) == message


def test_variant_weights_must_add_up_to_a_finite_number() -> None:
    data = {k: v for k, v in MINIMAL.items() if k != "agent"}
    text = yaml.safe_dump(data, sort_keys=False) + (
        "variants:\n"
        "  - {name: A, agent_id: agent_a, weight: 1e308}\n"
        "  - {name: B, agent_id: agent_b, weight: 1e308}\n"
    )

    assert parse_error(text) == (
        "x.yaml: variants: the weights add up to more than the largest number (1e+308 and 1e+308)"
    )


# --- fuzzing the parser: whatever the text, only a CampaignFileError comes out -------------------

_KEYS = st.sampled_from(
    [
        *CampaignConfig.model_fields,
        "agent_id",
        "version",
        "weight",
        "size",
        "phone",
        "days",
        "start",
        "holidays",
        "no_answer",
        "delay",
        "max_attempts",
        "max_calls_per_number_per_24h",
        "calls_per_second",
    ]
)
_AWKWARD_SCALARS = st.sampled_from(
    [
        "9" * 5000,
        "99999999999999999999d",
        "1e308",
        "-1e999",
        ".nan",
        "2026-02-30",
        "25:00",
        "\x1b]0;title\x07",
        "\u202e",
        "+1415",
        "0x" + "f" * 40,
    ]
)
_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20), _AWKWARD_SCALARS
)
_VALUES = st.recursive(
    _SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(_KEYS | st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
_YAML_TOKENS = st.sampled_from(
    [
        *("[", "]", "{", "}", ": ", "- ", "\n", "  ", ", ", "&a ", "*a ", "? ", "'", '"', "#"),
        *("!!int ", "!!float ", "!!timestamp ", "!!set ", "!!binary ", "!!python/tuple ", "<<: "),
        *("name", "caps", "variants", "weight", "9" * 30, "2026-02-30", "1e999", "1h", "\x00"),
    ]
)


def problems_parsing(text: str) -> list[str]:
    """The lines of the CampaignFileError the text raises (none if it is a valid campaign);
    any other exception fails the test."""
    try:
        parse_campaign(text, source="fuzz.yaml")
    except CampaignFileError as error:
        return str(error).splitlines()
    return []


def assert_parses_or_says_why(text: str) -> None:
    assert all(line.startswith("fuzz.yaml: ") for line in problems_parsing(text))


@given(st.text() | st.binary().map(lambda data: data.decode("utf-8", errors="replace")))
def test_any_text_parses_or_is_a_campaign_file_error(text: str) -> None:
    assert_parses_or_says_why(text)


@given(st.lists(_YAML_TOKENS, max_size=60).map("".join))
def test_yaml_token_soup_parses_or_is_a_campaign_file_error(text: str) -> None:
    assert_parses_or_says_why(text)


@given(st.dictionaries(_KEYS, _VALUES, max_size=5))
def test_campaigns_with_random_values_parse_or_are_a_campaign_file_error(
    changes: dict[str, Any],
) -> None:
    assert_parses_or_says_why(yaml.safe_dump(with_changes(**changes), allow_unicode=True))
