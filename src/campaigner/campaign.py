"""Campaign definitions: the `campaigns/*.yaml` files and the `CampaignConfig` model they load into.

A campaign file says who calls (one agent or weighted A/B variants), from which numbers, how
contact columns map to Retell dynamic variables, when recipients may be called (in their own local
time), how each outcome is retried, and the caps that keep a campaign compliant and affordable.
Every field is documented, with its default, in docs/campaign-file.md.

    config = load_campaign(Path("campaigns/demo.yaml"))
    config.agent_variants()  # [AgentVariant(name='A', weight=0.5, ...), ...B...]

Any problem with a file raises `CampaignFileError`, whose message names the file, the field and
what is wrong, e.g. `campaigns/x.yaml: window.start: '25:00' is not a time HH:MM`.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import re
import types
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn, Union, get_args, get_origin

import holidays
import phonenumbers
import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    RootModel,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from campaigner.durations import Duration, format_duration, parse_duration
from campaigner.errors import CampaignerError
from campaigner.outcomes import FINAL_OUTCOMES, OUTCOMES, OutcomeClass, RetryRule

__all__ = [
    "DEFAULT_VARIANT",
    "FEDERAL_EARLIEST",
    "FEDERAL_LATEST",
    "FINAL_OUTCOMES",
    "AgentRef",
    "AgentVariant",
    "BatchSettings",
    "CallWindow",
    "CampaignConfig",
    "CampaignFileError",
    "Caps",
    "ColumnMapping",
    "NumberRules",
    "OutcomeClass",
    "RetryPolicy",
    "RetryRule",
    "Weekday",
    "format_duration",
    "load_campaign",
    "parse_campaign",
    "parse_duration",
]

DEFAULT_VARIANT = "default"
"""The variant name of a campaign that has a single `agent` instead of `variants`."""

FEDERAL_EARLIEST = time(8, 0)
FEDERAL_LATEST = time(21, 0)
"""47 CFR 64.1200(c)(1): telemarketing calls only 08:00-21:00 at the called party's location."""


class CampaignFileError(CampaignerError):
    """A campaign file is missing, is not valid YAML, or does not describe a valid campaign.

    The message has one line per problem, each `<file>: <field path>: <what is wrong>`.
    """


class Weekday(StrEnum):
    """Days of the week, in `datetime.weekday()` order."""

    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"

    @classmethod
    def of(cls, day: date) -> Weekday:
        """The weekday of a date."""
        return _WEEKDAYS[day.weekday()]


_WEEKDAYS = tuple(Weekday)


# --- scalar parsers (each written once, shared by the fields that need them) ---------------------

_CLOCK_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def _parse_clock_time(value: object) -> time:
    if isinstance(value, time):
        return value
    match = _CLOCK_RE.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"{value!r} is not a time HH:MM")
    return time(int(match[1]), int(match[2]))


ClockTime = Annotated[
    time,
    BeforeValidator(_parse_clock_time),
    PlainSerializer(lambda value: value.strftime("%H:%M"), return_type=str),
]

_AGENT_TAG_RE = re.compile(r"^[A-Za-z0-9_.-]+$")


def _parse_agent_version(value: object) -> int | str:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, str) and _AGENT_TAG_RE.fullmatch(value.strip()):
        return value.strip()
    raise ValueError(f"{value!r} is not an agent version (a number, or a tag such as 'latest')")


AgentVersion = Annotated[int | str, PlainValidator(_parse_agent_version)]


def _parse_e164(value: object) -> str:
    if not isinstance(value, str) or not value.startswith("+"):
        raise ValueError(f"{value!r} is not an E.164 number like '+14155550100'")
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as error:
        raise ValueError(f"{value!r} is not a phone number: {error}") from None
    canonical = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError(f"{value!r} is not a valid phone number")
    if canonical != value:
        raise ValueError(f"{value!r} is not written in E.164: write '{canonical}'")
    return canonical


E164 = Annotated[str, BeforeValidator(_parse_e164)]


def _parse_region(value: object) -> str:
    region = value.strip().upper() if isinstance(value, str) else ""
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"{value!r} is not an ISO 3166 alpha-2 region code known to phonenumbers")
    return region


RegionCode = Annotated[str, BeforeValidator(_parse_region)]

_NON_BLANK = Field(min_length=1, pattern=r"\S")


def _parse_phone_columns(value: object) -> str | list[str]:
    """One phone header, or a non-empty list of them (tried in order for each row)."""
    if isinstance(value, list):
        if not value:
            raise ValueError("an empty list names no phone column; give at least one header")
        return [_parse_phone_header(header) for header in value]
    return _parse_phone_header(value)


def _parse_phone_header(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{value!r} is not a column header")
    return value


# A PlainValidator, not a union of the two types: pydantic would report a bad value once per
# type it tried, under paths such as `columns.phone.list[str]`.
PhoneColumns = Annotated[str | list[str], PlainValidator(_parse_phone_columns)]


# --- the campaign model ---------------------------------------------------------------------------


class _Section(BaseModel):
    """Base of every part of a campaign file: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class AgentRef(_Section):
    """The single Retell agent of a campaign without A/B variants."""

    agent_id: str = Field(min_length=1, pattern=r"^\S+$")
    version: AgentVersion | None = None


class AgentVariant(_Section):
    """One arm of an A/B test: an agent (and version) and its share of the contacts."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
    agent_id: str = Field(min_length=1, pattern=r"^\S+$")
    version: AgentVersion | None = None
    weight: float = Field(gt=0, allow_inf_nan=False)


class BatchSettings(_Section):
    """How contacts are grouped into Retell batch calls when `mode: batch`."""

    size: int = Field(default=500, ge=1)
    reserved_concurrency: int = Field(default=0, ge=0)
    # Send a zone's due contacts only when its window opens within this time: tasks Retell holds
    # are out of reach of later suppressions.
    submit_ahead: Duration = timedelta(hours=12)


class ColumnMapping(_Section):
    """Which columns of a contacts file hold what (header names; matched ignoring case/spaces)."""

    phone: PhoneColumns
    """One header, or several tried in order: a row's number comes from the first column holding
    one the campaign accepts (`campaigner.contacts.classify`)."""
    timezone: str | None = None
    external_id: str | None = None
    dynamic_variables: dict[str, str] = Field(default_factory=dict)
    metadata: list[str] = Field(default_factory=list)

    @field_validator("dynamic_variables")
    @classmethod
    def _variable_names_are_identifiers(cls, value: dict[str, str]) -> dict[str, str]:
        for variable, header in value.items():
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", variable):
                raise ValueError(f"{variable!r} is not a variable name (letters, digits and _)")
            if not header.strip():
                raise ValueError(f"variable {variable!r} maps to an empty column header")
        return value

    @property
    def phone_columns(self) -> tuple[str, ...]:
        """The phone headers in the order they are tried (one for the single-header form)."""
        return (self.phone,) if isinstance(self.phone, str) else tuple(self.phone)


class NumberRules(_Section):
    """How contact numbers are read and which ones a campaign accepts."""

    default_region: RegionCode = "US"
    allowed_countries: list[RegionCode] | None = Field(default=None, min_length=1)
    mobile_only: bool = False


class CallWindow(_Section):
    """When recipients may be called, always in each recipient's own local time.

    The window is half-open: a call may start at `start` and must start before `end`.
    """

    days: list[Weekday] = Field(
        default_factory=lambda: [Weekday.MON, Weekday.TUE, Weekday.WED, Weekday.THU, Weekday.FRI],
        min_length=1,
    )
    start: ClockTime = time(9, 0)
    end: ClockTime = time(20, 0)
    allow_outside_federal_hours: bool = False
    holidays: list[date] = Field(default_factory=list)
    holiday_calendar: str | None = None

    @field_validator("days", mode="before")
    @classmethod
    def _day_names(cls, value: object) -> object:
        if not isinstance(value, list):
            return value
        days = [_parse_weekday(item) for item in value]
        if len(set(days)) != len(days):
            raise ValueError("a day is listed twice")
        return days

    @field_validator("holiday_calendar")
    @classmethod
    def _known_calendar(cls, value: str | None) -> str | None:
        if value is None:
            return None
        code = value.strip().upper()
        country, _, subdivision = code.partition("-")
        supported = holidays.list_supported_countries()
        if country not in supported:
            raise ValueError(f"{value!r} is not a country code the holidays package knows")
        if subdivision and subdivision not in supported[country]:
            raise ValueError(f"{value!r}: {subdivision!r} is not a subdivision of {country}")
        return code

    @model_validator(mode="after")
    def _hours_are_sane(self) -> CallWindow:
        if self.end <= self.start:
            raise ValueError(f"window.end {self.end:%H:%M} must be after window.start")
        outside = self.start < FEDERAL_EARLIEST or self.end > FEDERAL_LATEST
        if outside and not self.allow_outside_federal_hours:
            raise ValueError(
                f"{self.start:%H:%M}-{self.end:%H:%M} goes outside the federal telemarketing hours "
                f"{FEDERAL_EARLIEST:%H:%M}-{FEDERAL_LATEST:%H:%M}; narrow the window or set "
                "allow_outside_federal_hours: true (for calls that are not telemarketing)"
            )
        return self

    def is_holiday(self, day: date) -> bool:
        """True when `day` is in `holidays` or in the `holiday_calendar`."""
        if day in self.holidays:
            return True
        if self.holiday_calendar is None:
            return False
        return day in _holiday_calendar(self.holiday_calendar)

    def allows(self, local: datetime) -> bool:
        """True when a call may start at `local`, a wall-clock time in the recipient's timezone."""
        return (
            Weekday.of(local.date()) in self.days
            and self.start <= local.time() < self.end
            and not self.is_holiday(local.date())
        )


_FULL_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_NAMES = {day.value: day for day in Weekday} | dict(zip(_FULL_DAY_NAMES, Weekday, strict=True))


def _parse_weekday(value: object) -> Weekday:
    day = _DAY_NAMES.get(value.strip().lower()) if isinstance(value, str) else None
    if day is None:
        raise ValueError(f"{value!r} is not a day (mon, tue, wed, thu, fri, sat, sun)")
    return day


@lru_cache(maxsize=16)
def _holiday_calendar(code: str) -> holidays.HolidayBase:
    country, _, subdivision = code.partition("-")
    return holidays.country_holidays(country, subdiv=subdivision or None)


_NEVER_RETRY = RetryRule(retry=False, delay=timedelta(0))

_DEFAULT_RULES: Mapping[OutcomeClass, RetryRule] = {
    outcome: traits.default_retry
    for outcome, traits in OUTCOMES.items()
    if traits.default_retry is not None
}
"""The default rule of every outcome class that is retried, from the table of outcomes."""


def _retried_outcome(key: object) -> OutcomeClass:
    """A key of `retry:`: an outcome class that has a rule to configure."""
    if isinstance(key, str) and key in _DEFAULT_RULES:
        return OutcomeClass(key)
    return _unknown_key(key, [outcome.value for outcome in _DEFAULT_RULES])


RetriedOutcome = Annotated[OutcomeClass, BeforeValidator(_retried_outcome)]


class RetryPolicy(RootModel[dict[RetriedOutcome, RetryRule]]):
    """Retry rules by outcome class: one for every class that is retried.

    They start from the defaults of `campaigner.outcomes.OUTCOMES`; a class given in the file
    overrides only the keys it sets. Final outcomes (`FINAL_OUTCOMES`) are never retried and cannot
    be configured.
    """

    model_config = ConfigDict(frozen=True)

    root: dict[RetriedOutcome, RetryRule] = Field(default_factory=lambda: dict(_DEFAULT_RULES))

    @model_validator(mode="before")
    @classmethod
    def _merge_with_defaults(cls, data: object) -> object:
        if not isinstance(data, dict):
            return data
        for key in data:
            if key in FINAL_OUTCOMES:
                raise ValueError(f"{key!r} is a final outcome: it is never retried")
        given = {key: _merged_rule(key, value) for key, value in data.items()}
        return {**_DEFAULT_RULES, **given}

    def rule_for(self, outcome: OutcomeClass) -> RetryRule:
        """The rule for an outcome class; outcomes without one (final ones, and those not about
        the contact, which are never counted) get a rule that never retries."""
        return self.root.get(outcome, _NEVER_RETRY)


def _merged_rule(key: object, value: object) -> object:
    """A rule as the file gives it, over the default rule of its class (when both are known)."""
    if not isinstance(key, str) or key not in _DEFAULT_RULES or not isinstance(value, dict):
        return value
    return {**_DEFAULT_RULES[OutcomeClass(key)].model_dump(), **value}


class Caps(_Section):
    """Limits on attempts, calls per number, concurrency and dialing rate."""

    max_attempts_per_contact: int = Field(default=3, ge=1)
    max_calls_per_number_per_24h: int = Field(default=3, ge=1)
    max_concurrency: int | None = Field(default=None, ge=1)
    calls_per_second: float = Field(default=1.0, gt=0, allow_inf_nan=False)


class CampaignConfig(_Section):
    """A whole campaign file. Exactly one of `agent` and `variants` is given."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    description: str = ""
    agent: AgentRef | None = None
    variants: list[AgentVariant] | None = Field(default=None, min_length=1)
    from_numbers: list[E164] = Field(min_length=1)
    mode: Literal["direct", "batch"] = "direct"
    batch: BatchSettings = BatchSettings()
    columns: ColumnMapping
    numbers: NumberRules = NumberRules()
    window: CallWindow = CallWindow()
    retry: RetryPolicy = RetryPolicy()
    caps: Caps = Caps()
    # The campaign's weight when campaigns dialing one Retell workspace share its slots.
    priority: int = Field(default=1, ge=1, le=1000)
    budget_cents: int | None = Field(default=None, ge=1)
    fetch_transcripts: bool = False
    mask_numbers_in_exports: bool = False
    analysis_timeout: Duration = timedelta(minutes=10)

    @field_validator("from_numbers")
    @classmethod
    def _distinct_numbers(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("a number is listed twice")
        return value

    @field_validator("variants")
    @classmethod
    def _distinct_variant_names(cls, value: list[AgentVariant] | None) -> list[AgentVariant] | None:
        names = [variant.name for variant in value or []]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"variant names must be unique: {', '.join(duplicates)} repeated")
        return value

    @field_validator("variants")
    @classmethod
    def _finite_total_weight(cls, value: list[AgentVariant] | None) -> list[AgentVariant] | None:
        # Each weight is finite, but two of 1e308 add up to infinity, and every share to 0.
        weights = [variant.weight for variant in value or []]
        if not math.isfinite(sum(weights)):
            listed = " and ".join(f"{weight:g}" for weight in weights)
            raise ValueError(f"the weights add up to more than the largest number ({listed})")
        return value

    @model_validator(mode="after")
    def _one_agent_source(self) -> CampaignConfig:
        if (self.agent is None) == (self.variants is None):
            raise ValueError("give exactly one of `agent` (one agent) or `variants` (A/B test)")
        return self

    def agent_variants(self) -> list[AgentVariant]:
        """The variants with weights normalised to sum to 1; a single agent is variant "default"."""
        if self.agent is not None:
            return [
                AgentVariant(
                    name=DEFAULT_VARIANT,
                    agent_id=self.agent.agent_id,
                    version=self.agent.version,
                    weight=1.0,
                )
            ]
        variants = self.variants or []
        total = sum(variant.weight for variant in variants)
        return [
            variant.model_copy(update={"weight": variant.weight / total}) for variant in variants
        ]

    def variant_named(self, name: str) -> AgentVariant:
        """The variant with this name; KeyError when the campaign has none such."""
        for variant in self.agent_variants():
            if variant.name == name:
                return variant
        raise KeyError(f"campaign {self.name!r} has no variant {name!r}")

    def config_sha256(self) -> str:
        """A fingerprint of the configuration's meaning (not of the file's comments or layout)."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


# --- reading files --------------------------------------------------------------------------------


MOST_NESTED = 50
"""Deepest nesting of lists and mappings a campaign file may have (it needs 4); the YAML reader
recurses once per level, so a file of 5,000 brackets would otherwise exhaust Python's stack."""

LARGEST_WHOLE_NUMBER = 2**63 - 1
"""The largest 64-bit integer, what databases and APIs hold: no count, cap or amount of cents a
campaign means is larger, so a larger number is a slip of the keyboard."""

_LONGEST_WHOLE_NUMBER_TEXT = len(f"-{LARGEST_WHOLE_NUMBER}")
"""A sign and 19 digits. Longer text is refused unread: Python converts no more than 4,300
digits (a `ValueError` without a word about the key)."""

LONGEST_FILE = 1_000_000
"""Characters in a campaign file, at most: a real one has a few thousand."""


@dataclass(frozen=True)
class _UnreadableScalar:
    """A scalar YAML cannot turn into a value (a 30-digit number, the date 2026-02-30).

    Kept in the data in place of the value, so that the field it was written for rejects it and
    the error names that field, instead of the whole file failing without a key.
    """

    text: str
    problem: str

    def __str__(self) -> str:
        return f"{_shown(self.text)} {self.problem}"


def _shown(text: str) -> str:
    """A value quoted in an error message, cut short so that the message stays one short line."""
    if len(text) <= _LONGEST_SHOWN:
        return repr(text)
    return f"{text[:_LONGEST_SHOWN]!r}… ({len(text)} characters)".replace("'…", "…'")


_LONGEST_SHOWN = 20


class _YamlLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 scalars, so `no` (Norway) stays a string and `9:30` is not 570.

    PyYAML follows YAML 1.1, where `yes/no/on/off` are booleans and `H:MM` is a base-60 number;
    both would turn campaign values into something else without a word. Duplicate keys are errors,
    and so is nesting deeper than `MOST_NESTED`. A scalar that cannot be read as the type YAML
    gives it becomes an `_UnreadableScalar`.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event: yaml.Event = self.peek_event()  # type: ignore[no-untyped-call]
        # An explicit tag (`!!set`, `!!timestamp`) reaches PyYAML constructors that crash on odd
        # input (IndexError, AttributeError); a campaign file needs none.
        tag = getattr(event, "tag", None)
        if tag not in {None, "!"}:
            raise _file_error_at(event, f"the tag {tag} is not allowed in a campaign file")
        self._depth += 1
        try:
            if self._depth > MOST_NESTED:
                raise _file_error_at(event, f"nested more than {MOST_NESTED} levels deep")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, OverflowError) as error:
            # Python's own int(), float() and date() refused a scalar; a child's error was
            # caught at the child, so this one is about this node.
            text = node.value if isinstance(node, yaml.ScalarNode) else node.tag
            unreadable = _UnreadableScalar(text, _problem_of(error))
            # As if constructed: a key is constructed twice (by construct_mapping here, then by
            # SafeLoader's), and a node left marked as under construction reads as recursive.
            self.recursive_objects.pop(node, None)
            self.constructed_objects[node] = unreadable
            return unreadable

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        if len(node.value) <= _LONGEST_WHOLE_NUMBER_TEXT:
            number = super().construct_yaml_int(node)
            if abs(number) <= LARGEST_WHOLE_NUMBER:
                return number
        raise _TooLarge(f"is too large a number (the largest is {LARGEST_WHOLE_NUMBER})")

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):
                continue  # `? [a]: b`: SafeLoader's own error says so, with its place
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _file_error_at(event: yaml.Event, problem: str) -> yaml.MarkedYAMLError:
    # The stubs allow the C reader's Mark too; the pure-Python reader of this loader makes
    # yaml.error.Mark only.
    return yaml.composer.ComposerError(None, None, problem, event.start_mark)  # type: ignore[arg-type]


class _TooLarge(ValueError):
    """A number beyond `LARGEST_WHOLE_NUMBER`: its message is the whole problem."""


def _problem_of(error: ValueError | OverflowError) -> str:
    return str(error) if isinstance(error, _TooLarge) else f"cannot be read: {error}"


_YamlLoader.add_constructor("tag:yaml.org,2002:int", _YamlLoader.construct_yaml_int)

_YAML11_TAGS = {"tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"}
_YamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _YAML11_TAGS]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$"), list("-+0123456789")
)
_YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)(?:[eE][-+]?[0-9]+)?$"),
    list("-+0123456789."),
)


def load_campaign(path: Path) -> CampaignConfig:
    """Read and validate a campaign file; raise `CampaignFileError` saying what is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CampaignFileError(f"{path}: no such campaign file") from None
    except IsADirectoryError:
        raise CampaignFileError(f"{path}: is a directory, not a campaign file") from None
    except UnicodeDecodeError:
        raise CampaignFileError(f"{path}: is not UTF-8 text") from None
    except OSError as error:
        raise CampaignFileError(f"{path}: cannot be read ({error.strerror})") from None
    return parse_campaign(text, source=str(path))


def parse_campaign(text: str, *, source: str = "<campaign>") -> CampaignConfig:
    """Validate campaign YAML text; `source` names it in error messages."""
    if len(text) > LONGEST_FILE:
        raise CampaignFileError(
            f"{source}: {len(text):,} characters is too long for a campaign file "
            f"(at most {LONGEST_FILE:,})"
        )
    try:
        data = yaml.load(text, Loader=_YamlLoader)  # noqa: S506 -- a SafeLoader subclass
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise CampaignFileError(f"{source}: {where}{error.problem or error}") from None
    except yaml.reader.ReaderError as error:
        raise CampaignFileError(
            f"{source}: character {error.position + 1}: {error.character!r} is a control "
            "character, which YAML does not allow"
        ) from None
    except yaml.YAMLError as error:
        raise CampaignFileError(f"{source}: not valid YAML ({error})") from None
    if data is None:
        raise CampaignFileError(f"{source}: the file is empty")
    if not isinstance(data, dict):
        raise CampaignFileError(
            f"{source}: must be a mapping of campaign fields, not a {type(data).__name__}"
        )
    try:
        return CampaignConfig.model_validate(data)
    except ValidationError as error:
        problems = [_describe_error(detail) for detail in error.errors()]
        raise CampaignFileError("\n".join(f"{source}: {problem}" for problem in problems)) from None


def _describe_error(detail: ErrorDetails) -> str:
    if isinstance(detail["input"], _UnreadableScalar):
        return _unreadable_at(detail["loc"], detail["input"])
    location = _format_location(detail["loc"])
    prefix = f"{location}: " if location else ""
    kind = detail["type"]
    if kind == "extra_forbidden":
        return f"{prefix}unknown key{_key_hint(detail['loc'])}"
    if kind == "missing":
        return f"{prefix}is required"
    if kind == "value_error":
        return f"{prefix}{detail.get('ctx', {}).get('error', detail['msg'])}"
    value = detail["input"]
    got = _shown(value) if isinstance(value, str) else repr(value)
    shown = f" (got {got})" if isinstance(value, str | int | float | bool) else ""
    return f"{prefix}{detail['msg'][:1].lower()}{detail['msg'][1:]}{shown}"


def _unreadable_at(location: tuple[int | str, ...], scalar: _UnreadableScalar) -> str:
    # An unreadable key is in pydantic's path as its repr: left out, as the problem quotes it.
    path = _format_location(tuple(part for part in location if part != repr(scalar)))
    return f"{path}: {scalar}" if path else str(scalar)


def _format_location(location: tuple[int | str, ...]) -> str:
    text = ""
    for part in location:
        if part == _DICT_KEY:
            continue
        if isinstance(part, int):
            text += f"[{part}]"
        elif not _PLAIN_KEY_RE.fullmatch(part):
            # A key the file made up (`"\\r"`, `"a: b"`) is quoted, so the message stays one line
            # whose path reads unambiguously.
            text += f"[{_shown(part)}]"
        else:
            text += f".{part}" if text else part
    return text


_PLAIN_KEY_RE = re.compile(r"[A-Za-z0-9_-]+")


_DICT_KEY = "[key]"
"""What pydantic adds to the location of an error in a mapping's key (`retry.noanswer.[key]`)."""


def _key_hint(location: tuple[int | str, ...]) -> str:
    return _suggestion(str(location[-1]), _field_names_at(location[:-1]))


def _unknown_key(key: object, known: list[str]) -> NoReturn:
    """Reject a key of a mapping section (one whose keys are not fields) as any unknown key is."""
    raise ValueError(f"unknown key{_suggestion(str(key), known)}")


def _suggestion(key: str, known: list[str]) -> str:
    if not known:
        return ""
    close = difflib.get_close_matches(key, known, n=1)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f" (expected one of: {', '.join(known)})"


def _field_names_at(location: tuple[int | str, ...]) -> list[str]:
    model: type[BaseModel] | None = CampaignConfig
    for part in location:
        if isinstance(part, int) or model is None:
            continue
        # Any key of a mapping section (`retry:`) leads to the model of its values.
        name = "root" if issubclass(model, RootModel) else part
        field = model.model_fields.get(name)
        model = _model_inside(field.annotation) if field else None
    return list(model.model_fields) if model else []


def _model_inside(annotation: object) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) in {list, dict, Union, types.UnionType, Annotated}:
        for argument in get_args(annotation):
            found = _model_inside(argument)
            if found:
                return found
    return None
