"""The DAGs' retry policies (Airflow objects, cheap to build at parse time): a source or a
province warehouse that could not be reached is tried again, with backoff; bad data or a broken
source never is; a warehouse connection lost, a deadlock victim or a locked SQLite file is."""

from __future__ import annotations

from airflow.sdk import ExceptionRetryPolicy, RetryAction, RetryRule

SOURCE_RETRY = ExceptionRetryPolicy(
    rules=[RetryRule(exception="jinbao.errors.SourceUnavailable", action=RetryAction.RETRY,
                     reason="source unreachable")],
    default=RetryAction.FAIL)
WAREHOUSE_RETRY = ExceptionRetryPolicy(
    rules=[RetryRule(exception=["sqlalchemy.exc.OperationalError", "sqlalchemy.exc.InterfaceError"],
                     action=RetryAction.RETRY, reason="warehouse connection or lock")],
    default=RetryAction.FAIL)
