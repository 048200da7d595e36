"""What the DAG files build: one consolidation DAG (and its report DAG) per configuration file.

Read at every DAG parse, so it reads TOML and nothing else: no database, no pandas, no secrets
(a source's `conn` is resolved in the task, not here). Where the configurations are:

    $JINBAO_DAG_CONFIGS   files or folders of *.toml, separated by ':'; one DAG per file,
                          `jinbao_<file stem>` unless [airflow] dag_id says otherwise
    $JINBAO_CONFIG        else one file: the DAG `jinbao_consolidate`
    (neither)             the embedded estate under .jinbao/: the DAG `jinbao_consolidate`
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from extractors.systems import SYSTEMS

NAME = re.compile(r"^[A-Za-z0-9_.-]+$")  # what Airflow allows in task ids and pool names


class DagConfigError(ValueError):
    """A configuration file cannot become a DAG; the message names the file and the key."""


@dataclass(frozen=True)
class SourceSpec:
    name: str
    system: str
    pool: str
    """The Airflow pool its stage task runs in: one per legacy database."""
    slots: int
    """Connections the legacy database may be given at once (the pool's size)."""


@dataclass(frozen=True)
class DagSpec:
    dag_id: str
    config: str | None
    """The configuration file tasks load (None: the embedded default)."""
    sources: tuple[SourceSpec, ...]
    buckets: int
    schedule: str
    """Cron expression of a data-interval timetable: each run reads its own interval."""
    timezone: str
    start_date: datetime
    end_date: datetime | None
    catchup: bool
    retries: int
    """Retries of a stage task whose source was unreachable (attempts - 1)."""
    retry_delay: float
    max_retry_delay: float
    warehouse_pool: str
    warehouse_slots: int
    queue: str
    """The Celery queue every task of the DAG goes to: workers per province serve their queue."""

    @property
    def report_dag_id(self) -> str:
        return f"{self.dag_id}_report"

    @property
    def asset_name(self) -> str:
        return f"{self.dag_id}.warehouse"

    @property
    def asset_uri(self) -> str:
        """The warehouse as an Airflow asset: updated by every consolidation run that loads."""
        return f"jinbao://{self.dag_id}/warehouse"


def _date(value, where: str) -> datetime:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        raise DagConfigError(f"{where} = {value!r} is not a date (YYYY-MM-DD)") from None


def _positive(value, where: str) -> int:
    if not isinstance(value, int) or value < 1:
        raise DagConfigError(f"{where} = {value!r} must be a whole number of at least 1")
    return value


def attempts(run: dict) -> tuple[int, float]:
    """[run] retries (attempts in all, at least 1) and retry_delay (seconds before the second,
    doubled before each later one): the CLI retries in process, Airflow by task retries."""
    return max(1, int(run.get("retries", 3))), float(run.get("retry_delay", 1.0))


def spec_from_file(path: Path | None, dag_id: str) -> DagSpec:
    """The DAG one configuration file asks for (None: the embedded default)."""
    data: dict = {}
    if path is not None:
        try:
            data = tomllib.loads(path.read_text("utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise DagConfigError(f"{path}: cannot be read as TOML ({error})") from None
    where = str(path) if path else "the embedded default"
    air, run, warehouse = data.get("airflow", {}), data.get("run", {}), data.get("warehouse", {})
    dag_id = air.get("dag_id", dag_id)
    if not NAME.match(dag_id):
        raise DagConfigError(f"{where}: [airflow] dag_id = {dag_id!r} may hold only letters, "
                             "digits, '_', '.' and '-'")
    declared = data.get("sources") if path is not None else {s: {"system": s} for s in SYSTEMS}
    if not declared:
        raise DagConfigError(f"{where}: no [sources.<name>] section")
    sources = []
    for name, source in declared.items():
        if not NAME.match(name):
            raise DagConfigError(f"{where}: source name {name!r} may hold only letters, digits, "
                                 "'_', '.' and '-' (it names Airflow tasks and pools)")
        if source.get("system") not in SYSTEMS:
            raise DagConfigError(f"{where}: [sources.{name}] system = {source.get('system')!r}; "
                                 f"must be one of {', '.join(SYSTEMS)}")
        sources.append(SourceSpec(
            name, source["system"], source.get("pool", f"{dag_id}.{name}"),
            _positive(source.get("connections", 1), f"{where}: [sources.{name}] connections")))
    sqlite = str(warehouse.get("url", "sqlite")).startswith("sqlite")
    end = air.get("end_date")
    tries, delay = attempts(run)
    return DagSpec(
        dag_id=dag_id,
        config=str(path) if path else None,
        sources=tuple(sources),
        buckets=_positive(data.get("staging", {}).get("buckets", 8), f"{where}: [staging] buckets"),
        schedule=str(air.get("schedule", "0 0 * * *")),
        timezone=str(air.get("timezone", "Asia/Shanghai")),
        start_date=_date(air.get("start_date", "2024-01-01"), f"{where}: [airflow] start_date"),
        end_date=_date(end, f"{where}: [airflow] end_date") if end is not None else None,
        catchup=bool(air.get("catchup", False)),
        retries=tries - 1,
        retry_delay=delay,
        max_retry_delay=float(run.get("max_retry_delay", 3600.0)),
        queue=str(air.get("queue", "default")),
        warehouse_pool=warehouse.get("pool", f"{dag_id}.warehouse"),
        # SQLite has one writer: more slots would only make loads wait on its lock
        warehouse_slots=1 if sqlite else _positive(warehouse.get("connections", 4),
                                                   f"{where}: [warehouse] connections"),
    )


def config_files(environ=os.environ) -> list[Path]:
    """The files named by $JINBAO_DAG_CONFIGS (folders give their *.toml), in name order."""
    files: list[Path] = []
    for entry in filter(None, environ.get("JINBAO_DAG_CONFIGS", "").split(os.pathsep)):
        path = Path(entry)
        if path.is_dir():
            files.extend(sorted(path.glob("*.toml")))
        elif path.is_file():
            files.append(path)
        else:
            raise DagConfigError(f"JINBAO_DAG_CONFIGS names {path}, which does not exist")
    return files


def dag_specs(environ=os.environ) -> list[DagSpec]:
    """Every DAG to build, from the configurations in the environment (see the module doc)."""
    files = config_files(environ)
    if files:
        specs = [spec_from_file(f.resolve(), f"jinbao_{f.stem}") for f in files]
    elif environ.get("JINBAO_CONFIG"):
        specs = [spec_from_file(Path(environ["JINBAO_CONFIG"]).resolve(), "jinbao_consolidate")]
    else:
        specs = [spec_from_file(None, "jinbao_consolidate")]
    seen: dict[str, str | None] = {}
    for spec in specs:
        if spec.dag_id in seen:
            raise DagConfigError(f"{spec.config} and {seen[spec.dag_id]} both make DAG "
                                 f"{spec.dag_id!r}; set [airflow] dag_id in one of them")
        seen[spec.dag_id] = spec.config
    return specs


def pools(specs: list[DagSpec]) -> dict[str, dict]:
    """The pools the DAGs run in, in `airflow pools import` form. A pool named by several
    configurations (one legacy database read by several provinces) gets the smallest size."""
    wanted: dict[str, tuple[int, str]] = {}
    for spec in specs:
        named = [(s.pool, s.slots, f"legacy source {s.name} ({s.system})") for s in spec.sources]
        named.append((spec.warehouse_pool, spec.warehouse_slots, "warehouse loads"))
        for pool, slots, what in named:
            if pool in wanted:
                slots = min(slots, wanted[pool][0])
            wanted[pool] = (slots, f"jinbao: {what}")
    return {name: {"slots": slots, "description": text, "include_deferred": False}
            for name, (slots, text) in sorted(wanted.items())}
