"""The ASGI application of `jinbao serve` (FastAPI): routes only, the logic is in accounts,
audit and lookup. Every route but the login checks a token and the caller's role; each states
the roles it admits in its OpenAPI operation (`x-roles`), which a test holds to the behaviour.

Bad input is a 4xx with a sentence, never a traceback, and never an echo of what was sent (a
number in an error would be personal data in a log). Every answer carries security headers and
`Cache-Control: no-store`: they may hold personal data.
"""

# no `from __future__ import annotations`: FastAPI reads each route's annotations, and those
# naming dependencies made inside create_app must be evaluated where they are written

import logging
import os
from collections.abc import Callable
from contextlib import asynccontextmanager
from datetime import date, datetime
from pathlib import Path as FilePath
from typing import Annotated, Literal

from anyio import to_thread
from fastapi import Body, Depends, FastAPI, Form, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.security import OAuth2PasswordBearer
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from jinbao.config import Config, served_config
from jinbao.review import decision_context
from service import audit, proof, proposals, queue
from service.accounts import ROLES, User
from service.i18n import N_
from service.lookup import NotANumber, number_of, people_named, person_answer
from service.pages import NeedsLogin, page_routes, rendered
from service.proposals import ProposalError, SamePerson
from service.state import LoginRefused, Service

log = logging.getLogger("jinbao")
API = "/api/v1"
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
                               "form-action 'self'",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cache-Control": "no-store",
}
LOOKUP_ROLES = ("operator", "caseworker", "checker")
AUDIT_ROLES = ("auditor", "admin")
QUEUE_ROLES = ("caseworker", "checker")
CONFIG_VARIABLE = "JINBAO_SERVE_CONFIG"
"""The file `jinbao serve` serves, for its worker processes (served_app)."""
PROPOSABLE = ("merge", "keep_apart", "pick", "confirm", "dismiss", "undo")


def create_app(cfg: Config) -> FastAPI:
    """The service over the warehouse of `cfg` (either tier's): the API and the pages."""
    state = Service.over(cfg)
    engine, key, settings = state.engine, state.key, state.settings
    @asynccontextmanager
    async def threads_as_connections(_app: FastAPI):
        # a request's database work runs in a thread; AnyIO's 40 threads for the pool's few
        # connections only contend for the GIL (a worker answered a third fewer look-ups)
        to_thread.current_default_thread_limiter().total_tokens = settings.connections
        yield

    app = FastAPI(title="jinbao", summary="The review queue and the 12333 look-up over a jinbao "
                  "warehouse", version="1", docs_url=None, redoc_url=None, openapi_url=None,
                  lifespan=threads_as_connections)
    bearer = OAuth2PasswordBearer(tokenUrl=f"{API}/token", auto_error=False)

    def caller(token: Annotated[str | None, Depends(bearer)]) -> User:
        user = state.user_of(token)
        if user is None:
            raise HTTPException(401, "log in first: POST /api/v1/token (the token may have "
                                     "expired)", headers={"WWW-Authenticate": "Bearer"})
        return user

    def admitting(*roles: str) -> Callable[..., User]:
        def admitted(user: Annotated[User, Depends(caller)]) -> User:
            if user.role not in roles:
                raise HTTPException(403, f"a {user.role} may not do this (it takes "
                                         f"{' or '.join(roles)})")
            return user
        return admitted

    def roles(*names: str) -> dict:
        return {"openapi_extra": {"x-roles": list(names)}}

    _errors(app, state)
    app.include_router(page_routes(state))
    app.mount("/static", StaticFiles(directory=FilePath(__file__).parent / "static"), name="static")

    app.add_middleware(SecurityHeaders)

    @app.post(f"{API}/token", tags=["accounts"], **roles())
    def token(request: Request, username: Annotated[str, Form(max_length=64)],
              password: Annotated[str, Form(max_length=1024)]) -> dict:
        """Log in (the OAuth2 password flow): a bearer token for the other routes."""
        try:
            _, issued = state.login(username, password, _client(request))
        except LoginRefused as refused:
            headers = ({"Retry-After": str(refused.retry_after)} if refused.retry_after
                       else {"WWW-Authenticate": "Bearer"})
            raise HTTPException(refused.status, str(refused), headers=headers) from None
        return {"access_token": issued, "token_type": "bearer"}

    @app.get(f"{API}/me", tags=["accounts"], **roles(*ROLES))
    def me(user: Annotated[User, Depends(caller)]) -> dict:
        """Who the token is for, and for how long a login lasts."""
        return {"name": user.name, "role": user.role,
                "session_minutes": settings.session_minutes}

    @app.get(f"{API}/persons/{{number}}", tags=["12333"], **roles(*LOOKUP_ROLES))
    def person(request: Request, number: str,
               user: Annotated[User, Depends(admitting(*LOOKUP_ROLES))],
               purpose: Annotated[str, Query(max_length=200)] = "12333 enquiry") -> dict:
        """One person by their number in any form (18 characters, the old 15 digits, a lower-case
        x, spaces, full-width digits): the golden record and every enrollment, what is under
        review where a case is open. Recorded, with its purpose."""
        try:
            found = number_of(number)
        except NotANumber as why:
            raise HTTPException(422, f"not a usable ID number: {why}") from None
        with engine.begin() as conn:
            answer = person_answer(conn, found)
            audit.record(conn, user.name, user.role, "lookup", "found" if answer else "not_found",
                         key, number=found, purpose=purpose, client=_client(request))
        if answer is None:
            raise HTTPException(404, "no person with this number")
        return answer

    @app.post(f"{API}/persons/{{number}}/proof", tags=["12333"], **roles("operator"),
              response_class=Response, responses={200: {"content": {"application/pdf": {}}}})
    def proof_of_insurance(request: Request, number: Annotated[str, Path(max_length=64)],
                           user: Annotated[User, Depends(admitting("operator"))]) -> Response:
        """A proof of insurance (参保证明, PDF) for the person, with a verification code the
        service checks. Recorded."""
        try:
            document, code = proof.issued_for(state, number, user, _client(request))
        except NotANumber as why:
            raise HTTPException(422, f"not a usable ID number: {why}") from None
        except LookupError:
            raise HTTPException(404, "no person with this number") from None
        except proof.NoFont as error:
            raise HTTPException(503, str(error)) from None
        return Response(document, media_type="application/pdf", headers={
            "Content-Disposition": f'attachment; filename="proof-{code}.pdf"'})

    @app.get(f"{API}/proofs/{{code}}", tags=["12333"], **roles("operator", "auditor"))
    def verify_proof(request: Request, code: Annotated[str, Path(max_length=32)],
                     user: Annotated[User, Depends(admitting("operator", "auditor"))]) -> dict:
        """Whether a proof with this verification code is ours: to whom (masked) and when it
        was issued, and what it stated. Recorded."""
        with engine.begin() as conn:
            found = proof.verified(conn, code)
            audit.record(conn, user.name, user.role, "verify_proof",
                         "found" if found else "not_found", key,
                         subject=proof.code_of(code) or "not a code",
                         client=_client(request))
        if found is None:
            raise HTTPException(404, "no proof with this code was issued here")
        return found

    @app.get(f"{API}/persons", tags=["12333"], **roles(*LOOKUP_ROLES))
    def persons(request: Request, name: Annotated[str, Query(min_length=1, max_length=64)],
                birth_date: date, user: Annotated[User, Depends(admitting(*LOOKUP_ROLES))],
                purpose: Annotated[str, Query(max_length=200)] = "12333 enquiry") -> dict:
        """The persons with this name and birth date (at most 20). Recorded, with its purpose."""
        with engine.begin() as conn:
            found = people_named(conn, name, birth_date)
            audit.record(conn, user.name, user.role, "search", f"{len(found)} found", key,
                         subject="name and birth date", purpose=purpose,
                         client=_client(request))
        return {"persons": found}

    @app.get(f"{API}/audit", tags=["audit"], **roles(*AUDIT_ROLES))
    def access_record(user: Annotated[User, Depends(admitting(*AUDIT_ROLES))],
                      account: Annotated[str | None, Query(max_length=64)] = None,
                      number: Annotated[str | None, Query(max_length=64)] = None,
                      since: datetime | None = None,
                      limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> dict:
        """The access record, newest first: by account, about one person (their number is
        hashed to find them; the record never holds it), since a moment."""
        try:
            person_number = number_of(number) if number else None
        except NotANumber as why:
            raise HTTPException(422, f"not a usable ID number: {why}") from None
        with engine.connect() as conn:
            return {"entries": audit.entries(conn, key, user=account, number=person_number,
                                             since=since, limit=limit)}

    @app.get(f"{API}/cases", tags=["review"], **roles(*QUEUE_ROLES))
    def cases(user: Annotated[User, Depends(admitting(*QUEUE_ROLES))],
              kind: Literal[queue.KINDS] | None = None,  # type: ignore[valid-type]
              status: Literal[queue.STATUSES] = "open",  # type: ignore[valid-type]
              region: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
              limit: Annotated[int, Query(ge=1, le=500)] = 50,
              offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> dict:
        """The review queue by priority: active and paid enrollments at stake first, then the
        match score, then age. Masked."""
        with engine.connect() as conn:
            return {"cases": queue.queue(conn, kind, status, region, limit, offset)}

    @app.get(f"{API}/cases/{{case_id}}", tags=["review"], **roles(*QUEUE_ROLES))
    def case(request: Request, case_id: Annotated[str, Path(max_length=64)],
             user: Annotated[User, Depends(admitting(*QUEUE_ROLES))],
             purpose: Annotated[str | None, Query(min_length=3, max_length=200)] = None) -> dict:
        """One case, its records side by side (differences marked) and the match weights.
        Masked; with a `purpose`, the full names and numbers, and the view is recorded."""
        with engine.begin() as conn:
            found = queue.case_detail(conn, case_id, full=purpose is not None)
            if found is not None and purpose is not None:
                audit.record(conn, user.name, user.role, "view_case", "ok", key,
                             number=found["person"], subject=case_id, purpose=purpose,
                             client=_client(request))
        if found is None:
            raise HTTPException(404, "no such case")
        return found

    @app.post(f"{API}/cases/{{case_id}}/proposals", tags=["review"], status_code=201,
              **roles("caseworker"))
    def propose(case_id: Annotated[str, Path(max_length=64)],
                user: Annotated[User, Depends(admitting("caseworker"))],
                decision: Annotated[Literal[PROPOSABLE], Body()],  # type: ignore[valid-type]
                keep: Annotated[int | None, Body(ge=1, le=1000)] = None,
                joining: Annotated[list[int] | None, Body(alias="with", max_length=100)] = None,
                row: Annotated[str | None, Body(max_length=300)] = None,
                note: Annotated[str | None, Body(max_length=2000)] = None) -> dict:
        """Propose a decision on the case (or `undo` of its decision): a checker, another
        person, applies it by approving."""
        with engine.begin() as conn:
            try:
                return proposals.propose(conn, case_id, decision, user.name, keep=keep,
                                         joining=joining, row=row, note=note)
            except ProposalError as error:
                raise HTTPException(409 if "no case" not in str(error) else 404,
                                    str(error)) from None

    @app.get(f"{API}/proposals", tags=["review"], **roles(*QUEUE_ROLES))
    def proposal_list(user: Annotated[User, Depends(admitting(*QUEUE_ROLES))],
                      status: Literal[("pending", "approved", "rejected")]  # type: ignore
                      | None = "pending") -> dict:
        """Proposals, oldest first (default: those waiting for a checker)."""
        with engine.connect() as conn:
            return {"proposals": proposals.proposals(conn, status)}

    def checked(proposal_id: str, user: User, work) -> dict:
        with engine.begin() as conn:
            try:
                return work(conn)
            except SamePerson as error:
                raise HTTPException(403, str(error)) from None
            except ProposalError as error:
                raise HTTPException(404 if "no proposal" in str(error) else 409,
                                    str(error)) from None

    @app.post(f"{API}/proposals/{{proposal_id}}/approve", tags=["review"], **roles("checker"))
    def approve(proposal_id: Annotated[str, Path(max_length=48)],
                user: Annotated[User, Depends(admitting("checker"))],
                note: Annotated[str | None, Body(embed=True, max_length=2000)] = None) -> dict:
        """Approve a proposal (not one's own): its decision is applied."""
        return checked(proposal_id, user, lambda conn: proposals.approve(
            conn, proposal_id, user.name, decision_context(cfg, user.name), note))

    @app.post(f"{API}/proposals/{{proposal_id}}/reject", tags=["review"], **roles("checker"))
    def reject(proposal_id: Annotated[str, Path(max_length=48)],
               user: Annotated[User, Depends(admitting("checker"))],
               note: Annotated[str | None, Body(embed=True, max_length=2000)] = None) -> dict:
        """Reject a proposal (not one's own): nothing is applied."""
        return checked(proposal_id, user, lambda conn: proposals.reject(
            conn, proposal_id, user.name, note))

    @app.get(f"{API}/openapi.json", tags=["accounts"], include_in_schema=False)
    def openapi(user: Annotated[User, Depends(caller)]) -> dict:
        """The API's OpenAPI document (for those who may use it)."""
        return app.openapi()

    return app


def served_app() -> FastAPI:
    """The application of a `jinbao serve` worker process: over the file the command named."""
    return create_app(served_config(os.environ.get(CONFIG_VARIABLE) or None))


class SecurityHeaders:
    """Adds HEADERS to every answer: plain ASGI, where Starlette's @app.middleware("http") would
    run each request through a task and two streams (a millisecond of a look-up's few)."""

    def __init__(self, app) -> None:
        self.app = app
        self.headers = [(k.lower().encode(), v.encode()) for k, v in HEADERS.items()]

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(message) -> None:
            if message["type"] == "http.response.start":
                named = {k for k, _ in self.headers}
                message = {**message, "headers": [
                    *(h for h in message.get("headers", []) if h[0].lower() not in named),
                    *self.headers]}
            await send(message)

        await self.app(scope, receive, with_headers)


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


def _errors(app: FastAPI, state: Service) -> None:
    def page(request: Request) -> bool:
        return not request.url.path.startswith("/api/")

    @app.exception_handler(NeedsLogin)
    async def needs_login(_request: Request, _error: NeedsLogin) -> Response:
        return RedirectResponse("/login", status_code=303, headers=HEADERS)

    @app.exception_handler(StarletteHTTPException)
    async def refused(request: Request, error: StarletteHTTPException) -> Response:
        if page(request):
            return rendered(state.key, request, "error.html", error.status_code,
                            message=error.detail)
        return JSONResponse({"detail": error.detail}, status_code=error.status_code,
                            headers={**HEADERS, **(error.headers or {})})

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> Response:
        # the field and what is wrong with it; never the value sent (it may be a number)
        problems = [{"field": ".".join(str(p) for p in e["loc"][1:]) or str(e["loc"][0]),
                     "problem": e["msg"]} for e in error.errors()]
        if page(request):
            return rendered(state.key, request, "error.html", 422, problems=problems,
                            message=N_("the request is not as this page takes it"))
        return JSONResponse({"detail": "the request is not as this route takes it",
                             "problems": problems}, status_code=422, headers=HEADERS)

    @app.exception_handler(Exception)
    async def failed(_request: Request, error: Exception) -> JSONResponse:
        log.error("service: internal error (%s)", type(error).__name__)
        return JSONResponse({"detail": "internal error: it is logged; try again, or tell the "
                                       "administrator"}, status_code=500, headers=HEADERS)
