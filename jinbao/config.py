"""Configuration: one TOML file, or the built-in embedded default under `.jinbao/`."""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from extractors.settings import SourceSettings
from extractors.systems import SYSTEMS
from jinbao.dag_specs import attempts
from transforms.survivorship import DEFAULT_RULES, Survivorship


class ConfigError(ValueError):
    """The configuration is missing something or names something unknown."""


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

    def __post_init__(self) -> None:
        if self.report_root is None:
            object.__setattr__(self, "report_root", self.staging_root.parent / "reports")

    def source(self, name: str) -> SourceSettings:
        if name not in self.sources:
            raise ConfigError(f"unknown source {name!r}; configured: {', '.join(self.sources)}")
        return self.sources[name]


_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _expanded(value: str, where: str) -> str:
    def lookup(match: re.Match) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise ConfigError(f"{where} names environment variable {name}, which is not set")
        return os.environ[name]

    return _ENV.sub(lookup, value)


def _url(value: str, base: Path, where: str) -> str:
    """Expand ${VARS}; make a relative SQLite path relative to the config file's folder."""
    url = _expanded(value, where)
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        relative = url.removeprefix("sqlite:///")
        if relative and not relative.startswith(":memory:"):
            url = f"sqlite:///{(base / relative).resolve()}"
    return url


def _connection_url(conn_id: str) -> str:
    """The URI of an Airflow connection (env AIRFLOW_CONN_* or the configured secrets backend)."""
    from airflow.sdk import Connection

    return Connection.get(conn_id).get_uri()


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


def _survivorship(spec: dict, sources: dict, path: Path) -> Survivorship:
    """[survivorship]: `source_priority = [names]` (default: the order of [sources]) and, per
    attribute, its ordered rules, e.g. `name = ["most_recent", "source_priority"]`."""
    priority = spec.get("source_priority", list(sources))
    unknown = [name for name in priority if name not in sources]
    if unknown:
        raise ConfigError(f"{path}: [survivorship] source_priority names unknown source "
                          f"{unknown[0]!r}")
    rules = {**DEFAULT_RULES, **{k: tuple(v) for k, v in spec.items() if k != "source_priority"}}
    try:
        return Survivorship(rules, tuple(priority))
    except ValueError as error:
        raise ConfigError(f"{path}: {error}") from None


def load_config(path: str | Path | None = None) -> Config:
    """Read `path`, else $JINBAO_CONFIG, else return the embedded default."""
    path = path or os.environ.get("JINBAO_CONFIG")
    if not path:
        return default_config()
    path = Path(path).resolve()
    if not path.is_file():
        raise ConfigError(f"configuration file {path} does not exist")
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML: {error}") from None
    base = path.parent
    warehouse = data.get("warehouse", {})
    if "url" not in warehouse:
        raise ConfigError(f"{path}: [warehouse] needs url = \"sqlite:///warehouse.db\" or similar")
    staging = data.get("staging", {})
    run = data.get("run", {})
    sources = {}
    for name, spec in data.get("sources", {}).items():
        where = f"{path}: [sources.{name}]"
        system = spec.get("system")
        if system not in SYSTEMS:
            raise ConfigError(f"{where} system = {system!r}; must be one of {', '.join(SYSTEMS)}")
        if system == "injury":
            if "path" not in spec:
                raise ConfigError(f"{where} needs path = \"<folder of YYYY-MM/city.csv files>\"")
            sources[name] = SourceSettings(name, system, path=(base / _expanded(spec["path"], where)))
            continue
        if "conn" in spec:
            url = _connection_url(spec["conn"])
        elif "url" in spec:
            url = _url(spec["url"], base, where)
        else:
            raise ConfigError(f"{where} needs url = \"...\" or conn = \"<airflow connection id>\"")
        sources[name] = SourceSettings(name, system, url=url)
    retries, retry_delay = attempts(run)
    return Config(
        survivorship=_survivorship(data.get("survivorship", {}), sources, path),
        report_root=(base / data["report"]["root"]).resolve() if "root" in data.get(
            "report", {}) else None,
        warehouse_url=_url(warehouse["url"], base, f"{path}: [warehouse]"),
        staging_root=(base / staging.get("root", "staging")).resolve(),
        gx_root=(base / staging.get("gx_root", "gx")).resolve(),
        buckets=int(staging.get("buckets", 8)),
        sources=sources,
        path=path,
        retries=retries,
        retry_delay=retry_delay,
    )
