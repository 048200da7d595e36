"""Configuration: one TOML file (validated by jinbao.config_model), or the embedded default under
`.jinbao/`. This module turns the file's model into the plain settings the stages take: paths
made absolute, ${ENV} names expanded, Airflow connections resolved."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError

from extractors.settings import SourceSettings
from extractors.systems import SYSTEMS
from jinbao.config_model import ConfigFile, read_file
from jinbao.errors import ConfigError
from transforms.survivorship import DEFAULT_RULES, Survivorship

__all__ = ["Config", "ConfigError", "default_config", "load_config", "masked_url"]


@dataclass(frozen=True)
class ServiceSettings:
    """`jinbao serve` ([service] of the file)."""

    host: str = "127.0.0.1"
    port: int = 8000
    secret: str | None = None
    """Signs logins; None: the warehouse keeps one (service.accounts.signing_key)."""
    session_minutes: int = 30
    login_attempts: int = 5
    lockout_minutes: int = 15
    workers: int = 1
    connections: int = 8
    proof_font: str | None = None


@dataclass(frozen=True)
class Config:
    """Where the warehouse, staging area, GX project and sources are."""

    warehouse_url: str
    staging_root: Path
    gx_root: Path
    buckets: int
    sources: dict[str, SourceSettings] = field(default_factory=dict)
    path: Path | None = None
    """The file this came from (None for the built-in default)."""
    retries: int = 3
    """Attempts to read a source before its stage fails (connection refused, died mid-read)."""
    retry_delay: float = 1.0
    """Seconds before the second attempt; doubled before each later one."""
    report_root: Path | None = None
    """Where each run's report folder goes ([report] root; default: <staging root>/../reports)."""
    survivorship: Survivorship = field(default_factory=Survivorship)
    """Which source row supplies each golden attribute ([survivorship] in the file)."""
    retention_days: float = 0.0
    """Days a committed run's staging files are kept (0: removed once it committed)."""
    abandoned_days: float = 7.0
    """Days an uncommitted run's staging files are kept for a rerun of its failed tasks."""
    lock_wait: float = 600.0
    """Seconds a command-line run waits for another run holding the warehouse."""
    reviewer: str | None = None
    """Who review decisions are recorded under when none is given ([review] reviewer)."""
    timezone: str = "Asia/Shanghai"
    """The legacy systems' local time zone ([airflow] timezone): their clocks are naive."""
    national_url: str | None = None
    """The national warehouse this province reports to ([national] warehouse), if any."""
    national_province: str | None = None
    """This province's name there ([national] province)."""
    service: ServiceSettings = field(default_factory=ServiceSettings)
    """`jinbao serve` over this warehouse ([service])."""

    def __post_init__(self) -> None:
        if self.report_root is None:
            object.__setattr__(self, "report_root", self.staging_root.parent / "reports")

    def source(self, name: str) -> SourceSettings:
        if name not in self.sources:
            raise ConfigError(f"unknown source {name!r}; configured: {', '.join(self.sources)}")
        return self.sources[name]


def masked_url(url: str) -> str:
    """A URL fit to print: its password, if any, as ***."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "(a URL that cannot be read)"


_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _expanded(value: str, where: str) -> str:
    def lookup(match: re.Match) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise ConfigError(f"{where} names environment variable {name}, which is not set")
        return os.environ[name]

    return _ENV.sub(lookup, value)


def resolved_url(value: str, base: Path, where: str) -> str:
    """Expand ${VARS}; make a relative SQLite path relative to the config file's folder; check
    that it is a database URL at all (never echoing it: it may hold a password)."""
    url = _expanded(value, where)
    try:
        make_url(url)
    except (ArgumentError, ValueError):
        raise ConfigError(f"{where} url is not a database URL (write it as "
                          "dialect+driver://user@host/database or sqlite:///file.db)") from None
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        relative = url.removeprefix("sqlite:///")
        if relative and not relative.startswith(":memory:"):
            url = f"sqlite:///{(base / relative).resolve()}"
    return url


def _connection_url(conn_id: str, where: str) -> str:
    """The URI of an Airflow connection (env AIRFLOW_CONN_* or the configured secrets backend)."""
    try:
        from airflow.sdk import Connection

        return Connection.get(conn_id).get_uri()
    except Exception:  # not found, no secrets backend, no task context: all mean "not here"
        raise ConfigError(
            f"{where} conn = {conn_id!r}: no such Airflow connection here; define it as "
            f"AIRFLOW_CONN_{conn_id.upper()}=<uri> in the environment or in the secrets "
            "backend") from None


def default_config(workdir: Path | None = None) -> Config:
    """The embedded default: SQLite estate and warehouse under `.jinbao/` in the working dir."""
    home = (workdir or Path.cwd()) / ".jinbao"
    estate = home / "estate"
    sources = {
        system: SourceSettings(system, system, path=estate / "injury")
        if system == "injury" else SourceSettings(system, system, url=f"sqlite:///{estate / system}.db")
        for system in SYSTEMS
    }
    return Config(f"sqlite:///{home / 'warehouse.db'}", home / "staging", home / "gx", 8, sources,
                  survivorship=Survivorship(source_priority=tuple(sources)))


def _sources(model: ConfigFile, base: Path, path: Path) -> dict[str, SourceSettings]:
    sources = {}
    for name, spec in model.sources.items():
        where = f"{path}: [sources.{name}]"
        timeouts = {"connect_timeout": spec.connect_timeout,
                    "statement_timeout": spec.statement_timeout}
        if spec.system == "injury":
            folder = (base / _expanded(spec.path or "", where)).resolve()
            sources[name] = SourceSettings(name, spec.system, path=folder, **timeouts)
        else:
            url = (_connection_url(spec.conn, where) if spec.conn
                   else resolved_url(spec.url or "", base, where))
            sources[name] = SourceSettings(name, spec.system, url=url, **timeouts)
    return sources


def _survivorship(model: ConfigFile) -> Survivorship:
    section = model.survivorship
    rules = dict(DEFAULT_RULES)
    for attribute in rules:
        chosen = getattr(section, attribute)
        if chosen is not None:
            rules[attribute] = tuple(chosen)
    return Survivorship(rules, tuple(section.source_priority or model.sources))


def from_model(model: ConfigFile, path: Path) -> Config:
    """The settings a configuration file's model describes (relative to the file's folder)."""
    base = path.parent
    return Config(
        warehouse_url=resolved_url(model.warehouse.url, base, f"{path}: [warehouse]"),
        staging_root=(base / model.staging.root).resolve(),
        gx_root=(base / model.staging.gx_root).resolve(),
        buckets=model.staging.buckets,
        sources=_sources(model, base, path),
        path=path,
        retries=model.run.retries,
        retry_delay=model.run.retry_delay,
        report_root=(base / model.report.root).resolve() if model.report.root else None,
        survivorship=_survivorship(model),
        retention_days=model.staging.retention_days,
        abandoned_days=model.staging.abandoned_days,
        lock_wait=model.run.lock_wait,
        reviewer=model.review.reviewer,
        timezone=model.airflow.timezone,
        national_url=resolved_url(model.national.warehouse, base, f"{path}: [national]")
        if model.national else None,
        national_province=model.national.province if model.national else None,
        service=service_settings(model.service, f"{path}: [service]"),
    )


def service_settings(section, where: str) -> ServiceSettings:
    """The [service] section of either kind of file, its secret's ${ENV} expanded."""
    return ServiceSettings(
        host=section.host, port=section.port,
        secret=_expanded(section.secret, where) if section.secret else None,
        session_minutes=section.session_minutes, login_attempts=section.login_attempts,
        lockout_minutes=section.lockout_minutes, workers=section.workers,
        connections=section.connections, proof_font=section.proof_font)


def is_national_file(path: str | Path) -> bool:
    """Whether the file is the national tier's (it lists [provinces]), not a province's."""
    import tomllib

    try:
        return "provinces" in tomllib.loads(Path(path).read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False  # load_config says what is wrong with it


def load_config(path: str | Path | None = None, embedded: Path | None = None) -> Config:
    """Read `path`, else $JINBAO_CONFIG, else the embedded estate under `.jinbao/` of the
    working folder (or `embedded`), which must exist: `jinbao demo` builds it."""
    path = path or os.environ.get("JINBAO_CONFIG")
    if not path:
        home = embedded or Path.cwd()
        if not (home / ".jinbao").is_dir():
            raise ConfigError(f"no configuration: give --config FILE or set JINBAO_CONFIG, or run "
                              f"`jinbao demo` in {home} first to build the embedded estate in "
                              ".jinbao/")
        return default_config(home)
    path = Path(path).resolve()
    return from_model(read_file(path), path)


def served_config(path: str | Path | None) -> Config:
    """The configuration whose warehouse `jinbao serve` serves: a province's, or the national
    tier's (a national.toml)."""
    if path and is_national_file(path):
        from jinbao.national import load_national_config

        return load_national_config(path).consolidation
    return load_config(path)
