"""Accounts of `jinbao serve`: users with one role each, passwords as argon2id hashes, logins as
signed tokens that expire, and accounts locked after repeated failed logins.

    caseworker   works the review queue: sees the records a case is about, proposes decisions
    checker      approves or rejects a caseworker's proposal (never their own)
    auditor      reads the access record and the reports; never a full number or name
    operator     answers the 12333 hotline: looks a person up, issues a proof of insurance
    admin        manages accounts

Tokens are JWTs (HS256) signed with the [service] secret, or with a key made once and kept in
the warehouse (every process serving it signs alike). A token names its user and role; each
request checks the account still stands (a disabled account's tokens stop at once).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, func, insert, select, update

from schemas.warehouse import access_log, service_setting, service_user

ROLES = ("caseworker", "checker", "auditor", "operator", "admin")
NAME = r"^[A-Za-z0-9_.@-]{1,64}$"
"""An account name: letters, digits and . _ @ - (it appears in records and decisions)."""
MIN_PASSWORD = 10
ALGORITHM = "HS256"
_HASHER = PasswordHasher()
_DUMMY = _HASHER.hash(secrets.token_hex(16))
"""What a login for an unknown name is checked against (so that it costs what a known one
does, and the time taken tells nothing)."""


class AccountError(ValueError):
    """An account cannot be made or changed as asked (the message says why)."""


@dataclass(frozen=True)
class User:
    name: str
    role: str


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def add_user(conn: Connection, name: str, role: str, password: str) -> User:
    """A new account (its password hashed with argon2id)."""
    if not re.fullmatch(NAME, name):
        raise AccountError(f"account name {name!r}: use 1 to 64 letters, digits, '.', '_', '@' "
                           "or '-'")
    if role not in ROLES:
        raise AccountError(f"role {role!r}: choose one of {', '.join(ROLES)}")
    if conn.execute(select(service_user.c.name).where(service_user.c.name == name)).first():
        raise AccountError(f"account {name} exists already")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must have at least {MIN_PASSWORD} characters")
    conn.execute(insert(service_user).values(name=name, role=role, created_at=_now(),
                                             password_hash=_HASHER.hash(password)))
    return User(name, role)


def users(conn: Connection) -> list[dict]:
    """Every account: name, role, created and disabled times (never a hash)."""
    rows = conn.execute(select(service_user.c.name, service_user.c.role,
                               service_user.c.created_at, service_user.c.disabled_at)
                        .order_by(service_user.c.name)).mappings().all()
    return [dict(r) for r in rows]


def disable_user(conn: Connection, name: str) -> None:
    changed = conn.execute(update(service_user).where(
        service_user.c.name == name, service_user.c.disabled_at.is_(None)).values(
        disabled_at=_now())).rowcount
    if not changed:
        raise AccountError(f"no active account {name}")


def standing(conn: Connection, name: str) -> User | None:
    """The account, if it exists and is not disabled."""
    found = conn.execute(select(service_user.c.role).where(
        service_user.c.name == name, service_user.c.disabled_at.is_(None))).scalar()
    return None if found is None else User(name, found)


def checked(conn: Connection, name: str, password: str) -> User | None:
    """The account whose password this is; None for a wrong name or password (the same answer
    for both, and the same work: a wrong name is hashed against a dummy)."""
    found = conn.execute(select(service_user.c.role, service_user.c.password_hash).where(
        service_user.c.name == name, service_user.c.disabled_at.is_(None))).first()
    stored = found.password_hash if found else _DUMMY
    try:
        _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    return User(name, found.role) if found else None



def locked_out(conn: Connection, name: str, attempts: int, minutes: int) -> bool:
    """Whether `attempts` logins to the account failed within the last `minutes`."""
    since = _now() - timedelta(minutes=minutes)
    failed = conn.execute(select(func.count()).select_from(access_log).where(
        access_log.c.user_name == name, access_log.c.action == "login_refused",
        access_log.c.at >= since)).scalar_one()
    return failed >= attempts


def signing_key(conn: Connection, configured: str | None) -> str:
    """The [service] secret, or the warehouse's own key (made on first use)."""
    if configured:
        return configured
    found = conn.execute(select(service_setting.c.value).where(
        service_setting.c.name == "signing_key")).scalar()
    if found is None:
        found = secrets.token_urlsafe(48)
        conn.execute(insert(service_setting).values(name="signing_key", value=found))
    return found


def token_for(user: User, key: str, minutes: int) -> str:
    now = datetime.now(UTC)
    return jwt.encode({"sub": user.name, "role": user.role, "iat": now,
                       "exp": now + timedelta(minutes=minutes)}, key, algorithm=ALGORITHM)


def token_user(token: str, key: str) -> User | None:
    """The user a token names, if it is ours, unaltered and unexpired."""
    try:
        claims = jwt.decode(token, key, algorithms=[ALGORITHM], options={
            "require": ["sub", "exp"]})
    except jwt.PyJWTError:
        return None
    return User(str(claims["sub"]), str(claims.get("role", "")))
