"""What every route of the service shares: the warehouse, the signing key, the settings, and the
two things both the API and the pages do the same way, logging in and knowing who calls."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from jinbao.config import Config, ServiceSettings
from loaders.schema import ensure_schema
from loaders.warehouse import warehouse_engine
from service import accounts, audit
from service.accounts import User


class LoginRefused(Exception):
    """A login that is not let in: `status` 401 (wrong name or password) or 429 (locked)."""

    def __init__(self, status: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status, self.retry_after = status, retry_after


@dataclass
class Service:
    cfg: Config
    engine: Engine
    key: str

    @classmethod
    def over(cls, cfg: Config) -> Service:
        engine = warehouse_engine(cfg.warehouse_url, cfg.service.connections)
        ensure_schema(engine)
        with engine.begin() as conn:
            key = accounts.signing_key(conn, cfg.service.secret)
        return cls(cfg, engine, key)

    @property
    def settings(self) -> ServiceSettings:
        return self.cfg.service

    def login(self, name: str, password: str, client: str | None) -> tuple[User, str]:
        """The user and a fresh token; every attempt recorded; LoginRefused when refused."""
        settings = self.settings
        with self.engine.begin() as conn:
            if accounts.locked_out(conn, name, settings.login_attempts,
                                   settings.lockout_minutes):
                audit.record(conn, name, None, "login_refused", "locked", self.key,
                             client=client)
                raise LoginRefused(429, f"too many failed logins: try again in "
                                        f"{settings.lockout_minutes} minutes",
                                   settings.lockout_minutes * 60)
            user = accounts.checked(conn, name, password)
            audit.record(conn, name, user.role if user else None,
                         "login" if user else "login_refused", "ok" if user else "refused",
                         self.key, client=client)
        if user is None:
            raise LoginRefused(401, "wrong account name or password")
        return user, accounts.token_for(user, self.key, settings.session_minutes)

    def user_of(self, token: str | None) -> User | None:
        """The account a token is for, as it stands now (not as the token says)."""
        claimed = accounts.token_user(token, self.key) if token else None
        if claimed is None:
            return None
        with self.engine.connect() as conn:
            return accounts.standing(conn, claimed.name)
