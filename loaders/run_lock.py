"""One command-line run per warehouse at a time: a second `jinbao run` (or backfill) waits for
the first, then refuses with a sentence naming it. The lock dies with its process: a PostgreSQL
session advisory lock, or an flock on a file beside a SQLite warehouse.

Airflow tasks do not take it: their runs share the warehouse through the bucket locks.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

from jinbao.errors import RunLocked

RUN_LOCK = 7074  # the advisory-lock class of command-line runs
POLL_SECONDS = 0.5


def _holder(what: str) -> dict:
    return {"what": what, "pid": os.getpid(), "host": socket.gethostname(),
            "since": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")}


def _said(holder: dict | None) -> str:
    if not holder:
        return "another jinbao run"
    return (f"{holder.get('what', 'a jinbao run')} (pid {holder.get('pid')} on "
            f"{holder.get('host')}, since {holder.get('since')})")


@contextmanager
def run_lock(url: str, what: str, wait: float,
             waiting: Callable[[str], None] = lambda _: None) -> Iterator[None]:
    """Hold the warehouse for one run; wait up to `wait` seconds for another holder (telling
    `waiting` once who it is), then raise RunLocked."""
    target = make_url(url)
    if target.get_backend_name() == "sqlite":
        lock = _sqlite_lock
    elif target.get_backend_name() == "postgresql":
        lock = _postgres_lock
    else:
        lock = _no_lock
    with lock(url, _holder(what), wait, waiting):
        yield


def _deadline_passed(began: float, wait: float) -> bool:
    return time.monotonic() - began >= wait


@contextmanager
def _sqlite_lock(url: str, holder: dict, wait: float, waiting) -> Iterator[None]:
    database = make_url(url).database
    if not database or database == ":memory:":
        yield
        return
    path = Path(f"{database}.run-lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    began, told = time.monotonic(), False
    with open(path, "a+", encoding="utf-8") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                handle.seek(0)
                try:
                    other = json.loads(handle.read() or "null")
                except ValueError:
                    other = None
                if _deadline_passed(began, wait):
                    raise RunLocked(f"the warehouse is in use by {_said(other)}; try again when "
                                    f"it has finished (waited {wait:.0f} s: [run] lock_wait)") from None
                if not told:
                    waiting(f"waiting for {_said(other)}, which holds the warehouse")
                    told = True
                time.sleep(POLL_SECONDS)
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(holder))
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def _postgres_lock(url: str, holder: dict, wait: float, waiting) -> Iterator[None]:
    engine = create_engine(url, connect_args={"application_name": f"jinbao {holder['what']}"[:63]})
    began, told = time.monotonic(), False
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            while not conn.execute(text("SELECT pg_try_advisory_lock(:k, 0)"),
                                   {"k": RUN_LOCK}).scalar_one():
                other = conn.execute(text(
                    "SELECT a.application_name, a.pid, a.client_addr, a.backend_start "
                    "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.locktype = 'advisory' AND l.classid = :k AND l.granted"),
                    {"k": RUN_LOCK}).first()
                said = (f"{other[0] or 'a jinbao run'} (server pid {other[1]}, since "
                        f"{other[3]:%Y-%m-%d %H:%M:%S})" if other else "another jinbao run")
                if _deadline_passed(began, wait):
                    raise RunLocked(f"the warehouse is in use by {said}; try again when it has "
                                    f"finished (waited {wait:.0f} s: [run] lock_wait)")
                if not told:
                    waiting(f"waiting for {said}, which holds the warehouse")
                    told = True
                time.sleep(POLL_SECONDS)
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k, 0)"), {"k": RUN_LOCK})
    finally:
        engine.dispose()


@contextmanager
def _no_lock(url: str, holder: dict, wait: float, waiting) -> Iterator[None]:
    yield
