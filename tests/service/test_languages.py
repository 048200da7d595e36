"""Pages in Chinese first, English second, from the message catalogues: every message the
templates and the service's code mark has a Chinese translation, and the pages speak the
language asked for."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

SERVICE = Path(__file__).resolve().parents[2] / "service"


def _marked() -> set[str]:
    found = set()
    for options in (("**.py", "python"), ("**/templates/**.html", "jinja2")):
        method_map = [options]
        extra = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
        for _file, _line, message, _comments, _context in extract_from_dir(
                SERVICE, method_map=method_map, options_map=extra,
                keywords={"_": None, "gettext": None, "N_": None}):
            found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_marked_message_has_its_chinese():
    with (SERVICE / "locale" / "zh_CN" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        chinese = {m.id: m.string for m in read_po(handle) if m.id}
    marked = _marked()
    assert len(marked) > 100
    missing = sorted(m for m in marked if not chinese.get(m))
    assert not missing, f"no Chinese for {missing}: pybabel update, then translate"


def test_the_pages_speak_the_language_asked_for(client):
    chinese = client.get("/login")
    assert '<html lang="zh-CN">' in chinese.text and "密码" in chinese.text
    english = client.get("/login", params={"lang": "en"})
    assert '<html lang="en">' in english.text and "Password" in english.text
    assert client.cookies.get("jinbao_lang") == "en"  # kept for the next pages
    assert "Password" in client.get("/login").text
    client.cookies.clear()
    assert "Password" in client.get("/login", headers={"Accept-Language": "en-GB,en"}).text
