"""Apache Spark for the work that outgrows one machine: the national tier's first load and its
full matching. A session from the configuration's [spark] section: `local[*]` (every core of
this machine) unless it names a cluster (spark://host:7077, yarn, k8s://...).

PySpark is imported here and only here, when a session is asked for: a province never pays its
start-up, and a machine without it says how to install it.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from jinbao.errors import ConfigError

log = logging.getLogger("jinbao")
# py4j narrates every connection at INFO, the last at interpreter exit, after logging's streams
# closed (a "Logging error" on stderr)
logging.getLogger("py4j").setLevel(logging.WARNING)

DEFAULT_CONF = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",  # naive timestamps stay as written
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.driver.memory": "4g",
    "spark.sql.adaptive.enabled": "true",
}
"""What every session starts from; [spark.conf] overrides any of it."""

QUIET_LOG4J = """rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = spark %p %c{1}: %m%n
logger.repl.name = org.apache.spark.repl.Main
logger.repl.level = error
logger.gateway.name = org.apache.spark.api.python.PythonGatewayServer
logger.gateway.level = error
"""
"""Spark's own log: errors only (its warnings about native libraries and the like are not the
operator's business), on stderr."""


@dataclass(frozen=True)
class SparkSettings:
    """Where and how Spark runs ([spark] of national.toml)."""

    enabled: bool = True
    """Run the national first load and full matching on Spark (False: in this process and its
    workers, as a province's run does)."""
    master: str = "local[*]"
    conf: dict[str, str] = field(default_factory=dict)


def require_pyspark() -> None:
    """Fail at once, saying what to do, when Spark is asked for and PySpark is missing."""
    if importlib.util.find_spec("pyspark") is None:
        raise ConfigError("[spark] is enabled but PySpark is not installed: install it with "
                          "pip install 'jinbao[spark]', or set [spark] enabled = false")


def _pyspark():
    # PySpark warns that it has not caught up with pandas 3; the data jinbao gives Spark goes
    # through Arrow, whose types it states itself
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas",
                            category=FutureWarning)
    require_pyspark()
    from pyspark.sql import SparkSession

    return SparkSession


def _conf(settings: SparkSettings, scratch: Path) -> dict[str, str]:
    from splink.internals.spark.jar_location import similarity_jar_location

    conf = {
        **DEFAULT_CONF,
        "spark.local.dir": str(scratch / "local"),  # shuffle and spill files: staging's disk
        "spark.sql.warehouse.dir": str(scratch / "warehouse"),
        "spark.jars": similarity_jar_location(),  # Splink's string similarity functions
        "spark.pyspark.python": sys.executable,  # workers import jinbao from this environment
        "spark.pyspark.driver.python": sys.executable,
    }
    conf.update({key: str(value).lower() if isinstance(value, bool) else str(value)
                 for key, value in settings.conf.items()})
    return conf


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    before = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def start_session(settings: SparkSettings, scratch: Path, name: str = "jinbao"):
    """A Spark session as `settings` ask; `scratch`: a folder for Spark's own files (its
    shuffles, spills and checkpoints), under the staging root."""
    session_type = _pyspark()
    scratch.mkdir(parents=True, exist_ok=True)
    builder = session_type.builder.master(settings.master).appName(name)
    for key, value in _conf(settings, scratch).items():
        builder = builder.config(key, value)
    launch = {"PYSPARK_PYTHON": sys.executable}
    if "SPARK_CONF_DIR" not in os.environ:  # an operator's own Spark configuration wins
        (scratch / "conf").mkdir(exist_ok=True)
        (scratch / "conf" / "log4j2.properties").write_text(QUIET_LOG4J, encoding="utf-8")
        launch["SPARK_CONF_DIR"] = str(scratch / "conf")
    with _environment(launch):  # read when the JVM starts, not after
        session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    # Splink writes its intermediate tables here (its "parquet" way of cutting long lineages)
    session.sparkContext.setCheckpointDir(str(scratch / "checkpoints"))
    log.info("spark: %s, %d cores by default", settings.master,
             session.sparkContext.defaultParallelism)
    return session


@contextmanager
def spark_session(settings: SparkSettings, scratch: Path, name: str = "jinbao") -> Iterator:
    """start_session for the duration of the block, stopped after it."""
    session = start_session(settings, scratch, name)
    try:
        yield session
    finally:
        session.stop()


class LazySession:
    """A Spark session started when first asked for, so that a run that needs none (a national
    run of a few changed rows) never pays Spark's start-up; close() stops it if it started."""

    def __init__(self, settings: SparkSettings, scratch: Path) -> None:
        require_pyspark()  # before the run reads anything
        self.settings, self.scratch, self._session = settings, scratch, None

    def get(self):
        if self._session is None:
            self._session = start_session(self.settings, self.scratch)
        return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.stop()
            self._session = None
