"""The Russian catalogue is complete, compiled and actually used; English stays one click away."""

from __future__ import annotations

import ast
import gettext
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import translation

from engine.analytics import SATISFACTION_FOOTNOTE

LOCALE = Path(__file__).resolve().parents[2] / "locale" / "ru" / "LC_MESSAGES"
PO = LOCALE / "django.po"
MO = LOCALE / "django.mo"


@dataclass
class Entry:
    msgid: str = ""
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)  # 0 for a singular entry
    flags: set[str] = field(default_factory=set)
    line: int = 0


def _parse_po(path: Path) -> list[Entry]:
    """A small PO reader (no polib in the requirements): entries, flags and (plural) msgstrs; obsolete #~ skipped."""
    entries: list[Entry] = []
    current: Entry | None = None
    target: tuple[str, int] | None = None

    def finish() -> None:
        nonlocal current, target
        if current is not None and (current.msgid or current.msgstr):
            entries.append(current)
        current, target = None, None

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line:
            finish()
            continue
        if line.startswith("#,"):
            if current is not None and target is not None:
                finish()
            current = current or Entry(line=number)
            current.flags.update(flag.strip() for flag in line[2:].split(","))
            continue
        if line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        if line.startswith('"'):
            assert current is not None and target is not None, f"{path}:{number}: stray continuation line"
            value = ast.literal_eval(line)
        else:
            if keyword in ("msgctxt", "msgid") and current is not None and target is not None and target[0] == "msgstr":
                finish()
            current = current or Entry(line=number)
            value = ast.literal_eval(rest)
            match = re.fullmatch(r"msgstr\[(\d+)\]", keyword)
            if match:
                target = ("msgstr", int(match.group(1)))
            elif keyword in ("msgid", "msgid_plural", "msgctxt", "msgstr"):
                target = (keyword, 0)
            else:
                raise AssertionError(f"{path}:{number}: unexpected line {line!r}")
        name, index = target
        if name == "msgstr":
            current.msgstr[index] = current.msgstr.get(index, "") + value
        else:
            setattr(current, name, (getattr(current, name) or "") + value)
    finish()
    return entries


def _messages() -> list[Entry]:
    return [e for e in _parse_po(PO) if e.msgid]  # the header is the entry with an empty msgid


def _placeholders(text: str) -> tuple[set[str], set[str]]:
    named = set(re.findall(r"%\(\w+\)[sd]", text))
    braces = set(re.findall(r"\{\w+\}", text))
    return named, braces


def test_the_catalogue_has_the_russian_plural_rule_and_is_not_fuzzy():
    header = _parse_po(PO)[0]
    assert header.msgid == ""
    assert "fuzzy" not in header.flags
    assert "Language: ru\n" in header.msgstr[0]
    assert "nplurals=3;" in header.msgstr[0]


def test_every_msgid_has_a_russian_translation_and_none_is_fuzzy():
    messages = _messages()
    assert len(messages) > 300  # the whole UI, not an empty file
    untranslated = [e.msgid for e in messages if not all(e.msgstr.get(i) for i in range(3 if e.msgid_plural else 1))]
    fuzzy = [e.msgid for e in messages if "fuzzy" in e.flags]
    assert not untranslated, "translate these in locale/ru/LC_MESSAGES/django.po:\n" + "\n".join(untranslated)
    assert not fuzzy, "check these translations and drop their fuzzy flag:\n" + "\n".join(fuzzy)


def test_translations_keep_every_placeholder_of_the_english_text():
    wrong = []
    for e in _messages():
        expected = _placeholders(e.msgid_plural or e.msgid)
        for index, text in e.msgstr.items():
            if _placeholders(text) != expected:
                wrong.append(f"{e.msgid!r} [{index}] -> {text!r}")
    assert not wrong, "\n".join(wrong)


def test_the_committed_mo_matches_the_po():
    catalog = gettext.GNUTranslations(MO.open("rb"))._catalog  # noqa: SLF001 - the only way to list a .mo
    stale = []
    for e in _messages():
        key = f"{e.msgctxt}\x04{e.msgid}" if e.msgctxt else e.msgid
        if e.msgid_plural:
            if any(catalog.get((key, i)) != s for i, s in e.msgstr.items()):
                stale.append(e.msgid)
        elif catalog.get(key) != e.msgstr[0]:
            stale.append(e.msgid)
    assert not stale, "run bin/update-translations (compilemessages); stale in django.mo:\n" + "\n".join(stale)


def test_msgfmt_accepts_the_catalogue_formats():
    if shutil.which("msgfmt") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("msgfmt (GNU gettext) is required in CI")
        pytest.skip("msgfmt is not installed")
    result = subprocess.run(
        ["msgfmt", "--check-format", "--check-header", "-o", os.devnull, str(PO)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_russian_plurals_pick_the_right_form():
    with translation.override("ru"):
        forms = {n: translation.ngettext("%(n)s call", "%(n)s calls", n) % {"n": n} for n in (1, 3, 5, 11, 21, 22, 25)}
    assert forms == {
        1: "1 звонок",
        3: "3 звонка",
        5: "5 звонков",
        11: "11 звонков",
        21: "21 звонок",
        22: "22 звонка",
        25: "25 звонков",
    }


def test_the_satisfaction_footnote_is_extracted_and_translated():
    from reports.content import satisfaction_footnote

    with translation.override("ru"):
        assert satisfaction_footnote().startswith("Общая удовлетворённость считается по времени")
    with translation.override("en"):
        assert satisfaction_footnote() == SATISFACTION_FOOTNOTE


@pytest.mark.django_db
def test_the_login_page_is_russian_by_default(client):
    html = client.get(reverse("accounts:login")).content.decode()
    assert '<html lang="ru">' in html
    assert "Войти" in html and "Имя пользователя" in html and "Пароль" in html
    assert "Sign in" not in html


@pytest.mark.django_db
def test_the_login_page_is_english_for_an_english_browser(client):
    html = client.get(reverse("accounts:login"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="en">' in html
    assert "Sign in" in html and "Username" in html
    assert "Войти" not in html


@pytest.mark.django_db
def test_the_language_switcher_turns_the_site_english_and_back(client):
    login = reverse("accounts:login")
    html = client.get(login).content.decode()
    form = re.search(r'<form action="([^"]+)" method="post" class="lang inline">(.*?)</form>', html, re.S)
    assert form, "the set_language form of base.html is missing"
    action, body = form.groups()
    assert re.search(r'name="language" value="en"', body)

    response = client.post(action, {"language": "en", "next": login}, follow=True)
    assert response.redirect_chain[-1][0] == login
    english = response.content.decode()
    assert '<html lang="en">' in english and "Sign in" in english and "Войти" not in english

    russian = client.post(action, {"language": "ru", "next": login}, follow=True).content.decode()
    assert "Войти" in russian and "Sign in" not in russian


def test_the_managers_pages_are_russian(manager_client, call):
    html = manager_client.get(reverse("calls:call_list")).content.decode()
    for text in ("Мои звонки", "Сводка", "Динамика", "Иллюстрации", "Выйти", "Персональный менеджер"):
        assert text in html, text
    dashboard = manager_client.get(reverse("reports:dashboard")).content.decode()
    assert "Мои звонки: сводка" in dashboard
