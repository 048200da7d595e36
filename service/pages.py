"""The service's pages, rendered on the server (Jinja2), in Chinese first and English second
(service.i18n), working offline: every asset comes from the service itself.

A login is a cookie holding the same signed token the API gives (HttpOnly, SameSite=Strict);
every form carries a CSRF token bound to it (a login form, one bound to a cookie of its own).
A page a role may not see is a 403 page; no login, a redirect to /login.
"""

# no `from __future__ import annotations`: FastAPI reads the routes' annotations, which name
# dependencies made inside page_routes (see service.app)

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import date
from functools import cache
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from jinbao.review import decision_context
from schemas.codes import code_table
from service import audit, i18n, proof, proposals, queue
from service.accounts import User
from service.i18n import N_
from service.lookup import NotANumber, number_of, people_named, person_answer
from service.proposals import ProposalError, SamePerson
from service.state import LoginRefused, Service

TEMPLATES = Path(__file__).parent / "templates"
SESSION, LOGIN_CSRF, LANG = "jinbao_session", "jinbao_login", "jinbao_lang"
HOME = {"caseworker": "/cases", "checker": "/proposals", "operator": "/lookup",
        "auditor": "/audit", "admin": "/audit"}


class NeedsLogin(Exception):
    """No login (or an expired one): the page sends the browser to /login."""


@cache
def _environment(locale: str) -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(),
                      extensions=["jinja2.ext.i18n"])
    env.install_gettext_translations(i18n.translations(locale), newstyle=True)
    return env


def csrf_of(key: str, bound: str) -> str:
    """The CSRF token of a session (or a login form's cookie)."""
    return hmac.new(key.encode(), f"csrf|{bound}".encode(), hashlib.sha256).hexdigest()[:40]


def same_token(given: str, expected: str) -> bool:
    """A constant-time comparison of what a form sent (any text: compare_digest refuses
    non-ASCII strings, so as bytes) with the token expected."""
    return hmac.compare_digest(given.encode(), expected.encode())


def page_routes(state: Service) -> APIRouter:
    """The pages, over the service's state."""
    router = APIRouter(tags=["pages"])

    def render(request: Request, template: str, http_status: int = 200,
               **values) -> HTMLResponse:
        return rendered(state.key, request, template, http_status, **values)

    def viewer(request: Request) -> User:
        user = state.user_of(request.cookies.get(SESSION))
        if user is None:
            raise NeedsLogin()
        return user

    def admitting(*roles: str) -> Callable[..., User]:
        def admitted(user: Annotated[User, Depends(viewer)]) -> User:
            if user.role not in roles:
                raise HTTPException(403, N_("this page is not for your role"))
            return user
        return admitted

    def checked_form(request: Request, csrf: str) -> None:
        expected = csrf_of(state.key, request.cookies.get(SESSION, ""))
        if not same_token(csrf, expected):
            raise HTTPException(403, N_("the form has expired: open the page again"))

    def roles(*names: str) -> dict:
        return {"openapi_extra": {"x-roles": list(names), "x-page": True},
                "response_class": HTMLResponse}

    def client(request: Request) -> str | None:
        return request.client.host if request.client else None

    @router.get("/login", **roles())
    def login_page(request: Request) -> HTMLResponse:
        """The login form."""
        bound = secrets.token_urlsafe(16)
        response = render(request, "login.html", login_csrf=csrf_of(state.key, bound))
        response.set_cookie(LOGIN_CSRF, bound, httponly=True, samesite="strict")
        return response

    @router.post("/login", **roles())
    def login(request: Request, username: Annotated[str, Form(max_length=64)],
              password: Annotated[str, Form(max_length=1024)],
              csrf: Annotated[str, Form(max_length=64)]) -> Response:
        """Log in; then the role's first page."""
        bound = request.cookies.get(LOGIN_CSRF, "")
        if not bound or not same_token(csrf, csrf_of(state.key, bound)):
            raise HTTPException(403, N_("the form has expired: open the page again"))
        try:
            user, token = state.login(username, password, client(request))
        except LoginRefused as refused:
            return render(request, "login.html", http_status=refused.status,
                          login_csrf=csrf, error=refused.status)
        response = RedirectResponse(HOME[user.role], status_code=303)
        response.set_cookie(SESSION, token, httponly=True, samesite="strict",
                            max_age=state.settings.session_minutes * 60,
                            secure=request.url.scheme == "https")
        response.delete_cookie(LOGIN_CSRF)
        return response

    @router.post("/logout", **roles("caseworker", "checker", "auditor", "operator", "admin"))
    def logout(request: Request, user: Annotated[User, Depends(viewer)],
               csrf: Annotated[str, Form(max_length=64)]) -> Response:
        """Log out."""
        checked_form(request, csrf)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION)
        return response

    @router.get("/", **roles("caseworker", "checker", "auditor", "operator", "admin"))
    def home(user: Annotated[User, Depends(viewer)]) -> Response:
        """The role's first page."""
        return RedirectResponse(HOME[user.role], status_code=303)

    @router.get("/cases", **roles("caseworker", "checker"))
    def cases_page(request: Request, user: Annotated[User, Depends(admitting(
            "caseworker", "checker"))], kind: str | None = None, status: str = "open",
                   region: Annotated[str | None, Query(max_length=6)] = None) -> HTMLResponse:
        """The review queue."""
        kind = kind if kind in queue.KINDS else None
        status = status if status in queue.STATUSES else "open"
        region = region if region and region.isdigit() and len(region) == 6 else None
        with state.engine.connect() as conn:
            found = queue.queue(conn, kind, status, region, 100)
        return render(request, "cases.html", user=user, cases=found, kind=kind, status=status,
                      region=region or "", kinds=queue.KINDS, statuses=queue.STATUSES)

    @router.get("/cases/{case_id}", **roles("caseworker", "checker"))
    def case_page(request: Request, case_id: str, user: Annotated[User, Depends(admitting(
            "caseworker", "checker"))], purpose: Annotated[str | None, Query(
                max_length=200)] = None) -> HTMLResponse:
        """One case: its records side by side, the match weights, what to decide."""
        purpose = (purpose or "").strip() or None
        with state.engine.begin() as conn:
            found = queue.case_detail(conn, case_id, full=purpose is not None)
            if found is None:
                raise HTTPException(404, N_("no such case"))
            if purpose:
                audit.record(conn, user.name, user.role, "view_case", "ok", state.key,
                             number=found["person"], subject=case_id, purpose=purpose,
                             client=client(request))
            waiting = [p for p in proposals.proposals(conn, None, 1000)
                       if p["case_id"] == case_id]
        return render(request, "case.html", user=user, case=found, proposals=waiting,
                      decisions=proposals.choices(found["kind"], found["status"]),
                      purpose=purpose or "")

    @router.post("/cases/{case_id}/propose", **roles("caseworker"))
    def propose(request: Request, case_id: str,
                user: Annotated[User, Depends(admitting("caseworker"))],
                csrf: Annotated[str, Form(max_length=64)],
                decision: Annotated[str, Form(max_length=16)],
                keep: Annotated[str, Form(max_length=6)] = "",
                joining: Annotated[str, Form(alias="with", max_length=100)] = "",
                row: Annotated[str, Form(max_length=300)] = "",
                note: Annotated[str, Form(max_length=2000)] = "") -> Response:
        """Propose a decision on the case; a checker applies it."""
        checked_form(request, csrf)
        try:
            numbers = [int(n) for n in joining.replace(" ", "").split(",") if n] or None
            with state.engine.begin() as conn:
                proposals.propose(conn, case_id, decision, user.name,
                                  keep=int(keep) if keep.strip() else None, joining=numbers,
                                  row=row or None, note=note or None)
        except (ProposalError, ValueError) as error:
            return _back(f"/cases/{quote(case_id)}", str(error))
        return _back(f"/cases/{quote(case_id)}", None)

    @router.get("/proposals", **roles("caseworker", "checker"))
    def proposals_page(request: Request, user: Annotated[User, Depends(admitting(
            "caseworker", "checker"))]) -> HTMLResponse:
        """Proposals waiting for a checker."""
        with state.engine.connect() as conn:
            waiting = proposals.proposals(conn)
        return render(request, "proposals.html", user=user, proposals=waiting)

    @router.post("/proposals/{proposal_id}/{verdict}", **roles("checker"))
    def check(request: Request, proposal_id: str, verdict: str,
              user: Annotated[User, Depends(admitting("checker"))],
              csrf: Annotated[str, Form(max_length=64)],
              note: Annotated[str, Form(max_length=2000)] = "") -> Response:
        """Approve (apply) or reject a proposal; never one's own."""
        checked_form(request, csrf)
        if verdict not in ("approve", "reject"):
            raise HTTPException(404, N_("approve or reject"))
        try:
            with state.engine.begin() as conn:
                if verdict == "approve":
                    proposals.approve(conn, proposal_id, user.name,
                                      decision_context(state.cfg, user.name), note or None)
                else:
                    proposals.reject(conn, proposal_id, user.name, note or None)
        except SamePerson as error:
            raise HTTPException(403, str(error)) from None
        except ProposalError as error:
            return _back("/proposals", str(error))
        return _back("/proposals", None)

    @router.get("/lookup", **roles("operator", "caseworker", "checker"))
    def lookup_page(request: Request, user: Annotated[User, Depends(admitting(
            "operator", "caseworker", "checker"))],
                    number: Annotated[str | None, Query(max_length=64)] = None,
                    name: Annotated[str | None, Query(max_length=64)] = None,
                    birth_date: date | None = None,
                    purpose: Annotated[str, Query(max_length=200)] = "") -> HTMLResponse:
        """The 12333 look-up: by number in any form, or by name and birth date."""
        values: dict = {"number": number or "", "name": name or "", "purpose": purpose,
                        "birth_date": birth_date.isoformat() if birth_date else ""}
        purpose = purpose.strip() or "12333 enquiry"
        if number:
            try:
                found = number_of(number)
            except NotANumber as why:
                return render(request, "lookup.html", http_status=422, user=user, error=str(why),
                              **values)
            with state.engine.begin() as conn:
                values["person"] = person_answer(conn, found)
                audit.record(conn, user.name, user.role, "lookup",
                             "found" if values["person"] else "not_found", state.key,
                             number=found, purpose=purpose, client=client(request))
            values["searched"] = True
        elif name and birth_date:
            with state.engine.begin() as conn:
                values["people"] = people_named(conn, name, birth_date)
                audit.record(conn, user.name, user.role, "search",
                             f"{len(values['people'])} found", state.key,
                             subject="name and birth date", purpose=purpose,
                             client=client(request))
            values["searched"] = True
        return render(request, "lookup.html", user=user, **values)

    @router.post("/lookup/proof", **roles("operator"))
    def proof_page(request: Request, user: Annotated[User, Depends(admitting("operator"))],
                   csrf: Annotated[str, Form(max_length=64)],
                   number: Annotated[str, Form(max_length=64)]) -> Response:
        """A proof of insurance (PDF) for the person shown."""
        checked_form(request, csrf)
        try:
            document, code = proof.issued_for(state, number, user, client(request))
        except (NotANumber, LookupError):
            raise HTTPException(404, N_("no person with this number")) from None
        except proof.NoFont as error:
            raise HTTPException(503, str(error)) from None
        return Response(document, media_type="application/pdf", headers={
            "Content-Disposition": f'attachment; filename="proof-{code}.pdf"'})

    @router.get("/verify", **roles("operator", "auditor"))
    def verify_page(request: Request, user: Annotated[User, Depends(admitting(
            "operator", "auditor"))], code: Annotated[str, Query(max_length=32)] = ""
                    ) -> HTMLResponse:
        """Check a proof's verification code."""
        found = None
        if code:
            with state.engine.begin() as conn:
                found = proof.verified(conn, code)
                audit.record(conn, user.name, user.role, "verify_proof",
                             "found" if found else "not_found", state.key,
                             subject=proof.code_of(code) or "not a code",
                             client=client(request))
        return render(request, "verify.html", user=user, code=code, proof=found)

    @router.get("/audit", **roles("auditor", "admin"))
    def audit_page(request: Request, user: Annotated[User, Depends(admitting(
            "auditor", "admin"))], account: Annotated[str | None, Query(max_length=64)] = None
                   ) -> HTMLResponse:
        """The access record, newest first (masked)."""
        with state.engine.connect() as conn:
            entries = audit.entries(conn, state.key, user=account or None)
        return render(request, "audit.html", user=user, entries=entries, account=account or "")

    return router


def rendered(key: str, request: Request, template: str, http_status: int = 200,
             **values) -> HTMLResponse:
    """A template in the viewer's language, with what every page shows (the user, the
    language, the code labels, the form token)."""
    chosen = i18n.chosen_locale(request.query_params.get("lang"), request.cookies.get(LANG),
                                request.headers.get("accept-language"))
    token = request.cookies.get(SESSION, "")
    labels = {t: code_table(t, i18n.LABEL_COLUMN[chosen]) for t in (
        "scheme", "sex", "enrollment_status", "pay_status")}
    page = _environment(chosen).get_template(template).render(
        request=request, lang=chosen, labels=labels, csrf=csrf_of(key, token) if token else "",
        path=request.url.path, **{"user": None, **values})
    response = HTMLResponse(page, status_code=http_status)
    if request.query_params.get("lang") in i18n.LOCALES:
        response.set_cookie(LANG, chosen, max_age=365 * 86400, samesite="strict", httponly=True)
    return response


def _back(to: str, error: str | None) -> Response:
    """Back to a page after a form, with what went wrong (if anything) to show there."""
    target = to if error is None else f"{to}?error={quote(error[:300])}"
    return RedirectResponse(target, status_code=303)
