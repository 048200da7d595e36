"""Languages of the pages: Simplified Chinese first, English second, from gettext message
catalogues (Babel) under service/locale/<locale>/LC_MESSAGES/messages.po. The catalogues are
read and compiled when the service starts (no compiled file is kept beside them); strings live
in the catalogues and the templates, never scattered in code.

    pybabel extract -F service/babel.cfg -k N_ -o service/locale/messages.pot service
    pybabel update -i service/locale/messages.pot -d service/locale
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations


def N_(message: str) -> str:
    """Marks a message for the catalogues where it is only named (a role, a case kind, a
    field): the pages translate it by its value."""
    return message


VOCABULARY = (
    # roles
    N_("caseworker"), N_("checker"), N_("auditor"), N_("operator"), N_("admin"),
    # case kinds, statuses, decisions and proposals
    N_("attribute_conflict"), N_("suspected_duplicate"), N_("duplicate_enrollment"),
    N_("open"), N_("resolved"), N_("withdrawn"), N_("pending"), N_("approved"), N_("rejected"),
    N_("merge"), N_("keep_apart"), N_("pick"), N_("confirm"), N_("dismiss"), N_("undo"),
    # fields of a record, and what the match compares
    N_("name"), N_("sex"), N_("birth_date"), N_("claimed_id"), N_("id_number"), N_("scheme"),
    N_("pooling_region"), N_("status"), N_("pay_status"), N_("employer_id"),
    N_("enrolled_on"), N_("updated_at"), N_("outcome"), N_("birth_region"), N_("province"),
    N_("birth"), N_("birth_vs_id"), N_("region"), N_("employer"),
    N_("basic_pension"), N_("basic_medical"), N_("unemployment"), N_("work_injury"),
    N_("maternity"),
    # actions in the access record
    N_("login"), N_("login_refused"), N_("lookup"), N_("search"), N_("view_case"),
    N_("issue_proof"), N_("verify_proof"),
)

LOCALES = ("zh_CN", "en")
DEFAULT = "zh_CN"
CATALOGUES = Path(__file__).parent / "locale"
LABEL_COLUMN = {"zh_CN": "label_zh", "en": "label_en"}


@cache
def translations(locale: str) -> Translations:
    """The locale's catalogue, compiled in memory."""
    path = CATALOGUES / locale / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        catalogue = read_po(handle, locale=locale)
    compiled = io.BytesIO()
    write_mo(compiled, catalogue)
    compiled.seek(0)
    return Translations(compiled)


def chosen_locale(asked: str | None, cookie: str | None, accept: str | None) -> str:
    """?lang= first, then the cookie, then the browser's languages, then Chinese."""
    for wanted in (asked, cookie):
        if wanted in LOCALES:
            return wanted
    for part in (accept or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh_CN"
        if tag.startswith("en"):
            return "en"
    return DEFAULT
