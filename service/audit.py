"""The access record: every look-up, every view of personal data and every login, with who,
when, why and what. What is kept of a person is their masked number and a keyed hash of the
full one (HMAC-SHA256 with the service's signing key): an auditor finds every access to one
person by giving the number, which the record itself never holds.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime

from sqlalchemy import Connection, insert, select

from quality.masking import masked_id
from schemas.warehouse import access_log

PURPOSE_CHARS = 200


def subject_key(number: str, key: str) -> str:
    """The keyed hash a person's number is recorded under."""
    return hmac.new(key.encode(), number.encode(), hashlib.sha256).hexdigest()


def record(conn: Connection, user: str, role: str | None, action: str, outcome: str,
           key: str, *, number: str | None = None, subject: str | None = None,
           purpose: str | None = None, client: str | None = None) -> None:
    """One access, in the open transaction. `number`: the person's, recorded by its keyed hash
    (and masked, when there is no other `subject`: a case id)."""
    conn.execute(insert(access_log).values(
        access_id=f"access-{secrets.token_hex(12)}",
        at=datetime.now(UTC).replace(tzinfo=None, microsecond=0),
        user_name=user[:64], role=role, action=action, outcome=outcome,
        subject=subject or (masked_id(number) if number else None),
        subject_key=subject_key(number, key) if number else None,
        purpose=(purpose or "")[:PURPOSE_CHARS] or None, client=(client or "")[:64] or None))


def entries(conn: Connection, key: str, *, user: str | None = None,
            number: str | None = None, since: datetime | None = None,
            limit: int = 200) -> list[dict]:
    """The latest accesses, newest first: by a user, to one person (by their number), since a
    moment. Masked as recorded: no number or name is ever in the record."""
    query = select(access_log.c.at, access_log.c.user_name, access_log.c.role,
                   access_log.c.action, access_log.c.subject, access_log.c.purpose,
                   access_log.c.outcome, access_log.c.client)
    if user:
        query = query.where(access_log.c.user_name == user)
    if number:
        query = query.where(access_log.c.subject_key == subject_key(number, key))
    if since:
        query = query.where(access_log.c.at >= since)
    rows = conn.execute(query.order_by(access_log.c.at.desc(), access_log.c.access_id)
                        .limit(limit)).mappings().all()
    return [{**r, "at": f"{r['at']:%Y-%m-%d %H:%M:%S}"} for r in rows]
