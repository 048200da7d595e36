"""The configuration file as a typed model: every section and key jinbao knows, with its type,
bounds, default and a one-line description (which the JSON Schema for editors carries too).

Read by the command line and, at every DAG parse, by jinbao.dag_specs: it imports pydantic and
the standard library only. Unknown keys and sections are errors that name the closest known one;
every error of a file is reported at once, each as a sentence naming the section and key.
"""

from __future__ import annotations

import difflib
import tomllib
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from extractors.systems import SYSTEMS
from jinbao.errors import ConfigError

# What Airflow allows in task ids and pool names, and what is safe as a folder name: no path
# separators, no '.' or '..' alone, at most 64 characters (the warehouse's source_system).
SAFE_NAME = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$"
SafeName = Annotated[str, StringConstraints(pattern=SAFE_NAME)]
SurvivorshipRule = Literal["agrees_with_id", "most_common", "most_recent", "source_priority"]
MAX_BUCKETS = 4096
"""More buckets than this only adds per-bucket overhead: a province uses hundreds."""


class ConfigFileError(ConfigError):
    """A configuration file cannot be used; the message lists every problem, one per line."""

    def __init__(self, path: Path | str | None, problems: list[str]) -> None:
        self.path, self.problems = path, problems
        where = f"{path}" if path else "the configuration"
        if len(problems) == 1:
            super().__init__(f"{where}: {problems[0]}")
        else:
            super().__init__(f"{where}: {len(problems)} problems:\n" + "\n".join(
                f"  - {p}" for p in problems))


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, use_attribute_docstrings=True,
                              frozen=True)


class WarehouseSection(Section):
    url: str
    """SQLAlchemy URL of the warehouse: sqlite:///warehouse.db (relative to this file) or
    postgresql+psycopg://...; may name an environment variable: ${WAREHOUSE_URL}."""
    connections: int = Field(4, ge=1, le=256)
    """Airflow pool size: bucket loads at once (always 1 for SQLite)."""
    pool: SafeName | None = None
    """Airflow pool of the loads (default <dag_id>.warehouse)."""


class StagingSection(Section):
    root: str = "staging"
    """Folder of the Parquet files stages exchange: <root>/<run_id>/<stage>/<source>/."""
    buckets: int = Field(8, ge=1, le=MAX_BUCKETS)
    """Person buckets: the unit of parallel reconcile and load."""
    gx_root: str = "gx"
    """Great Expectations project: suites, every run's results, Data Docs."""
    retention_days: float = Field(0.0, ge=0)
    """Days a committed run's staging files (which hold personal data) are kept; 0: removed
    as soon as the run committed."""
    abandoned_days: float = Field(7.0, ge=0)
    """Days an uncommitted run's staging files are kept for a rerun of its failed tasks."""


class ReportSection(Section):
    root: str | None = None
    """Folder of each run's report.html and report.json (default: beside staging)."""


class RunSection(Section):
    retries: int = Field(3, ge=1, le=100)
    """Attempts to read a source before its stage fails (CLI and Airflow)."""
    retry_delay: float = Field(1.0, ge=0, le=86400)
    """Seconds before the second attempt, doubled before each later one."""
    max_retry_delay: float = Field(3600.0, ge=0, le=7 * 86400)
    """Airflow: the longest wait between two attempts."""
    lock_wait: float = Field(600.0, ge=0, le=86400)
    """Seconds a command-line run waits for another run that holds the warehouse."""


class AirflowSection(Section):
    dag_id: SafeName | None = None
    """The consolidation DAG's id (default jinbao_<file stem>)."""
    schedule: str = "0 0 * * *"
    """Cron expression of the data intervals; each run reads its own."""
    timezone: str = "Asia/Shanghai"
    """Time zone of the schedule and of the legacy systems' naive timestamps."""
    start_date: str = "2024-01-01"
    """First data interval (YYYY-MM-DD)."""
    end_date: str | None = None
    """Last data interval (YYYY-MM-DD), if any."""
    catchup: bool = False
    """Create runs for the intervals missed since start_date."""
    queue: SafeName = "default"
    """The Celery queue of this province's workers."""

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        from croniter import croniter  # what Airflow's cron timetables use

        if not croniter.is_valid(value):
            raise ValueError("is not a cron expression (five fields, e.g. \"0 0 * * *\")")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("is not a time zone (e.g. \"Asia/Shanghai\")") from None
        return value

    @field_validator("start_date", "end_date", mode="before")
    @classmethod
    def _day(cls, value):
        if isinstance(value, date) and not isinstance(value, datetime):
            return value.isoformat()  # a TOML date: 2024-01-01 without quotes
        if isinstance(value, str):
            try:
                date.fromisoformat(value)
            except ValueError:
                raise ValueError("is not a date (YYYY-MM-DD)") from None
        return value


class SurvivorshipSection(Section):
    source_priority: list[str] | None = None
    """Source names, most trusted first (default: the order of [sources])."""
    name: list[SurvivorshipRule] | None = None
    """Ordered rules choosing the golden name."""
    sex: list[SurvivorshipRule] | None = None
    """Ordered rules choosing the golden sex."""
    birth_date: list[SurvivorshipRule] | None = None
    """Ordered rules choosing the golden birth date."""
    ethnicity: list[SurvivorshipRule] | None = None
    """Ordered rules choosing the golden ethnicity."""


class ReviewSection(Section):
    reviewer: str | None = None
    """Who decisions are recorded under when `jinbao review resolve` has no --by."""


class NationalSection(Section):
    warehouse: str
    """SQLAlchemy URL of the national warehouse, where the national cases about this province's
    people are (`jinbao review list --national`); may name an environment variable."""
    province: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,23}$")]
    """This province's name in the national tier's file ([provinces.<name>])."""


class SourceSection(Section):
    system: Literal[SYSTEMS]  # type: ignore[valid-type]
    """Which legacy system this is: pension | medical | unemployment | injury | maternity."""
    url: str | None = None
    """SQLAlchemy URL of a database system (relative SQLite paths from this file's folder);
    may name an environment variable: ${PENSION_URL}."""
    conn: SafeName | None = None
    """Airflow connection id holding the URL (resolved when a task runs, never stored here)."""
    path: str | None = None
    """injury: folder of the monthly exports <path>/<YYYY-MM>/<city>.csv."""
    connections: int = Field(1, ge=1, le=256)
    """Airflow pool size: readers this legacy database accepts at once."""
    pool: SafeName | None = None
    """Airflow pool of the stage (default <dag_id>.<source>); share one between provinces."""
    connect_timeout: float = Field(30.0, gt=0, le=3600)
    """Seconds to wait for a connection, or a lock on the source's tables, before the source
    counts as unavailable (and is tried again)."""
    statement_timeout: float = Field(3600.0, ge=0, le=7 * 86400)
    """Seconds one read may run before it is stopped (0: no limit)."""

    @model_validator(mode="after")
    def _where(self) -> SourceSection:
        if self.system == "injury":
            if self.path is None:
                raise ValueError('an injury source needs path = "<folder of YYYY-MM/city.csv>"')
            if self.url or self.conn:
                raise ValueError("an injury source is a folder: path, not url or conn")
        elif (self.url is None) == (self.conn is None):
            raise ValueError(f'a {self.system} source needs url = "..." or conn = '
                             '"<airflow connection id>" (one of them)')
        elif self.path is not None:
            raise ValueError(f"a {self.system} source is a database: url or conn, not path")
        return self


class ServiceSection(Section):
    host: str = "127.0.0.1"
    """Address `jinbao serve` listens on (0.0.0.0: every interface, behind a TLS proxy)."""
    port: int = Field(8000, ge=1, le=65535)
    """Port `jinbao serve` listens on."""
    secret: str | None = None
    """Key that signs logins (tokens and browser sessions): ${JINBAO_SECRET}; default: a key
    made once and kept in the warehouse, shared by every process serving it."""
    session_minutes: int = Field(30, ge=1, le=24 * 60)
    """Minutes a login lasts (a browser session or an API token)."""
    login_attempts: int = Field(5, ge=1, le=100)
    """Failed logins to one account, within lockout_minutes, after which it is refused."""
    lockout_minutes: int = Field(15, ge=1, le=24 * 60)
    """How far back failed logins count, and how long a locked account waits."""
    workers: int = Field(1, ge=1, le=64)
    """Worker processes of `jinbao serve` (about one per core)."""
    connections: int = Field(8, ge=1, le=200)
    """Warehouse connections each worker keeps open, and as many requests at once (the rest
    wait their turn)."""
    proof_font: str | None = None
    """Font file for proofs of insurance (a collection: "file.ttc#2"); default: the Noto Sans
    CJK SC that fontconfig finds (Debian's fonts-noto-cjk)."""


class ConfigFile(Section):
    """A jinbao configuration file (TOML)."""

    warehouse: WarehouseSection
    """The central warehouse."""
    staging: StagingSection = StagingSection()
    """Files the stages exchange, and the Great Expectations project."""
    report: ReportSection = ReportSection()
    """The auditors' reports."""
    run: RunSection = RunSection()
    """Retries and locks."""
    airflow: AirflowSection = AirflowSection()
    """The DAGs made from this file."""
    survivorship: SurvivorshipSection = SurvivorshipSection()
    """Which source row supplies each golden attribute."""
    review: ReviewSection = ReviewSection()
    """Review decisions."""
    national: NationalSection | None = None
    """The national tier this province reports to (its cases about this province's people)."""
    service: ServiceSection = ServiceSection()
    """`jinbao serve`: caseworkers' review queue and the 12333 look-up."""
    sources: dict[SafeName, SourceSection] = Field(min_length=1)
    """The legacy sources, by name: [sources.<name>] (letters, digits, '_', '.', '-')."""

    @model_validator(mode="after")
    def _priority(self) -> ConfigFile:
        unknown = [s for s in self.survivorship.source_priority or () if s not in self.sources]
        if unknown:
            raise ValueError(f"[survivorship] source_priority names unknown source {unknown[0]!r}; "
                             f"configured: {', '.join(self.sources)}")
        return self


PROVINCE_NAME = r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,23}$"
"""A province's name in the national tier: a province's source 'pension' is the national
source 'anhui/pension' (at most 64 characters with the source's name)."""


class ProvinceSection(Section):
    warehouse: str
    """SQLAlchemy URL of the province's warehouse, read only (relative SQLite paths from this
    file's folder); may name an environment variable: ${ANHUI_WAREHOUSE_URL}."""
    dag_id: SafeName | None = None
    """The province's consolidation DAG: its warehouse asset schedules the national DAG."""
    pool: SafeName | None = None
    """Airflow pool of the task reading this province (default <national dag_id>.<province>)."""
    connections: int = Field(1, ge=1, le=64)
    """The pool's size: readers of the province's warehouse at once."""


class SparkSection(Section):
    enabled: bool = True
    """Run a national first load and every full match on Apache Spark (false: in this process
    and its workers, as a province's run does). Runs of a few changed rows never start it."""
    master: str = "local[*]"
    """Where Spark runs: local[*] (every core of this machine), spark://host:7077, yarn,
    k8s://https://host:443 ..."""
    conf: dict[str, str | int | float | bool] = {}
    """Spark properties, as given: [spark.conf] "spark.executor.memory" = "16g" ..."""


class NationalFile(Section):
    """The national tier's configuration file (TOML): `jinbao national run --config F`."""

    warehouse: WarehouseSection
    """The ministry's warehouse (the same contract as a province's, with province columns)."""
    staging: StagingSection = StagingSection()
    """Files the national stages exchange."""
    run: RunSection = RunSection()
    """Retries and locks."""
    airflow: AirflowSection = AirflowSection()
    """The national DAG: its id, queue, time zone; its schedule when no province names a DAG."""
    provinces: dict[Annotated[str, StringConstraints(pattern=PROVINCE_NAME)],
                    ProvinceSection] = Field(min_length=1)
    """The province warehouses, by name: [provinces.<name>] (letters, digits, '_', '-')."""
    spark: SparkSection = SparkSection()
    """The engine of the national tier's bulk work (a first load, a full match)."""
    service: ServiceSection = ServiceSection()
    """`jinbao serve` over the national warehouse."""


def json_schema() -> dict:
    """The JSON Schema of the file, for editors (Taplo / Even Better TOML: `#:schema` line)."""
    schema = ConfigFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "jinbao configuration"
    return schema


NAMED = {"sources": SourceSection, "provinces": ProvinceSection}
"""The sections whose tables are named by the file: [sources.<name>], [provinces.<name>]."""


def _models_at(loc: tuple, root: type[Section] = ConfigFile) -> type[Section] | None:
    """The model whose keys `loc` (a pydantic error location, without the key) points into."""
    model: type[Section] | None = root
    rest = list(loc)
    while rest and model is not None:
        part = rest.pop(0)
        if model is root and part in NAMED:
            if not rest:
                return None
            rest.pop(0)  # the source's (or province's) name
            model = NAMED[part]
            continue
        field = model.model_fields.get(str(part))
        annotation = getattr(field, "annotation", None) if field else None
        model = annotation if isinstance(annotation, type) and issubclass(
            annotation, Section) else None
    return model


def _where(loc: tuple) -> str:
    """('sources', 'pension', 'url') -> '[sources.pension] url'; ('staging',) -> '[staging]'."""
    parts = [str(p) for p in loc if not isinstance(p, int)]
    if not parts:
        return "the file"
    if parts[0] in NAMED and len(parts) >= 2:
        section, keys = f"[{parts[0]}.{parts[1]}]", parts[2:]
    else:
        section, keys = f"[{parts[0]}]", parts[1:]
    return f"{section} {'.'.join(keys)}".strip()


SECRET_KEYS = ("url", "conn")


def _shown(value, loc: tuple) -> str:
    if loc and str(loc[-1]) in SECRET_KEYS:
        return ""  # a URL may hold a password
    if isinstance(value, dict | list):
        return ""
    text = repr(value)
    return f" = {text[:60]}{'…' if len(text) > 60 else ''}"


def problems_of(error: ValidationError, root: type[Section] = ConfigFile) -> list[str]:
    """Each pydantic error as a sentence naming the section and key, with a suggestion."""
    out = []
    for e in error.errors(include_url=False):
        loc, kind = tuple(e["loc"]), e["type"]
        if kind == "extra_forbidden":
            model = _models_at(loc[:-1], root)
            known = list(model.model_fields) if model else []
            key = str(loc[-1])
            close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            if len(loc) == 1:
                hint = f"; did you mean [{close[0]}]?" if close else (
                    f"; sections are {', '.join(f'[{k}]' for k in known)}")
                out.append(f"[{key}] is not a section jinbao knows{hint}")
            else:
                hint = f"; did you mean {close[0]}?" if close else f"; keys are {', '.join(known)}"
                out.append(f"{_where(loc[:-1])}: {key} is not a key jinbao knows{hint}")
        elif kind == "missing":
            out.append(f"{_where(loc)} is required")
        elif kind == "string_pattern_mismatch" and len(loc) == 3 and loc[0] == "sources" \
                and loc[2] == "[key]":
            out.append(f"source name {loc[1]!r} may hold only letters, digits, '_', '.' and '-' "
                       "(at most 64, not starting with '.' or '-'): it names folders, Airflow "
                       "tasks and pools")
        elif kind == "string_pattern_mismatch" and len(loc) == 3 and loc[0] == "provinces" \
                and loc[2] == "[key]":
            out.append(f"province name {loc[1]!r} may hold only letters, digits, '_' and '-' "
                       "(at most 24, not starting with '-'): it names the province's national "
                       "sources ('anhui/pension')")
        elif kind == "string_pattern_mismatch":
            out.append(f"{_where(loc)}{_shown(e.get('input'), loc)}: may hold only letters, "
                       "digits, '_', '.' and '-'")
        elif not loc:
            out.append(e["msg"].removeprefix("Value error, "))
        else:
            out.append(f"{_where(loc)}{_shown(e.get('input'), loc)}: {_said(e)}")
    return out


def _said(e: dict) -> str:
    """A pydantic message in the file's own terms."""
    kind, ctx = e["type"], e.get("ctx") or {}
    plain = {
        "string_type": "must be text in quotes",
        "int_type": "must be a whole number", "int_parsing": "must be a whole number",
        "int_from_float": "must be a whole number",
        "float_type": "must be a number", "float_parsing": "must be a number",
        "bool_type": "must be true or false", "bool_parsing": "must be true or false",
        "list_type": "must be a list: [...]",
        "dict_type": "must be a table (a [section] of keys)",
        "model_type": "must be a table (a [section] of keys)",
        "model_attributes_type": "must be a table (a [section] of keys)",
        "too_short": "must not be empty",
    }
    if kind in plain:
        return plain[kind]
    if kind in ("greater_than_equal", "greater_than"):
        return f"must be {'at least' if kind.endswith('equal') else 'more than'} " \
               f"{ctx.get('ge', ctx.get('gt'))}"
    if kind in ("less_than_equal", "less_than"):
        return f"must be {'at most' if kind.endswith('equal') else 'less than'} " \
               f"{ctx.get('le', ctx.get('lt'))}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected', '')}".replace("'", "")
    return e["msg"].removeprefix("Value error, ")


def parsed(text: str, path: Path | str | None = None, root: type[Section] = ConfigFile):
    """The model (a province's ConfigFile, or the NationalFile) of a file's text;
    ConfigFileError lists every problem at once."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigFileError(path, [f"is not valid TOML ({error})"]) from None
    try:
        return root.model_validate(data)
    except ValidationError as error:
        raise ConfigFileError(path, problems_of(error, root)) from None


def read_file(path: Path, root: type[Section] = ConfigFile):
    """The model of a configuration file (UTF-8 TOML): a province's, or (root=NationalFile)
    the national tier's."""
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigFileError(path, ["does not exist"]) from None
    except IsADirectoryError:
        raise ConfigFileError(path, ["is a folder, not a configuration file"]) from None
    except PermissionError:
        raise ConfigFileError(path, ["cannot be read (permission denied)"]) from None
    except UnicodeDecodeError as error:
        raise ConfigFileError(path, [f"is not UTF-8 text (byte {error.start}); save it as "
                                     "UTF-8"]) from None
    return parsed(text, path, root)
