"""The Russian catalogue is complete, compiled and actually used; English stays one click away."""

from __future__ import annotations

import ast
import gettext
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest
from django.conf import settings
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


ENGLISH_BROWSER = "en-US,en;q=0.9"


def _is_russian(html: str) -> bool:
    return '<html lang="ru">' in html and "Войти" in html and "Sign in" not in html


def _is_english(html: str) -> bool:
    return '<html lang="en">' in html and "Sign in" in html and "Войти" not in html


@pytest.mark.django_db
def test_the_login_page_is_russian_for_an_english_browser(client):
    # Accept-Language is ignored: Russian unless the user chose English with the switch.
    response = client.get(reverse("accounts:login"), HTTP_ACCEPT_LANGUAGE=ENGLISH_BROWSER)
    assert _is_russian(response.content.decode())
    assert response["Content-Language"] == "ru"
    vary = [v.strip().lower() for v in response["Vary"].split(",")]
    assert "cookie" in vary and "accept-language" not in vary


@pytest.mark.django_db
def test_the_chosen_language_wins_over_the_browser_both_ways(client):
    login = reverse("accounts:login")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    assert _is_english(client.get(login, HTTP_ACCEPT_LANGUAGE="ru-RU,ru;q=0.9").content.decode())

    # Choosing Russian with the switch brings an English browser back to Russian.
    response = client.post(
        reverse("set_language"), {"language": "ru", "next": login}, follow=True, HTTP_ACCEPT_LANGUAGE=ENGLISH_BROWSER
    )
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "ru"
    assert _is_russian(response.content.decode())
    assert _is_russian(client.get(login, HTTP_ACCEPT_LANGUAGE=ENGLISH_BROWSER).content.decode())

    client.post(reverse("set_language"), {"language": "en", "next": login}, HTTP_ACCEPT_LANGUAGE=ENGLISH_BROWSER)
    assert _is_english(client.get(login, HTTP_ACCEPT_LANGUAGE=ENGLISH_BROWSER).content.decode())


def test_the_clients_consent_page_is_russian_for_an_english_browser(client, call):
    from calls.lifecycle import start_call
    from calls.models import Consent
    from calls.protocol import make_client_token

    start_call(call)
    url = reverse("calls:client_capture", args=[make_client_token(call.pk)])
    html = client.get(url, HTTP_ACCEPT_LANGUAGE=ENGLISH_BROWSER).content.decode()
    assert '<html lang="ru">' in html and "Даю согласие, начать" in html and "I agree, start" not in html
    assert client.post(url, {"agree": "on"}, HTTP_ACCEPT_LANGUAGE=ENGLISH_BROWSER).status_code == 302
    assert Consent.objects.get(call=call).language == "ru"  # the Russian text is the one agreed to


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


def test_the_report_notification_and_mail_are_in_the_sites_language_not_the_callers(call, manager):
    # The task runs in a worker (or on a thread of the request that ended the call, here an English one):
    # users have no language of their own, so the stored notification and the e-mail are Russian.
    from django.core import mail

    from calls.lifecycle import give_consent, start_call
    from calls.models import Call, Notification
    from reports.tasks import build_call_report

    manager.email = "anna@bank.example"
    manager.save()
    start_call(call)
    give_consent(call, "ru")
    Call.objects.end(call.pk)
    with translation.override("en"):
        assert build_call_report.run(str(call.pk)) is True
    note = Notification.objects.get(call=call)
    assert note.message == f"Отчёт по вашему звонку с клиентом {call.client.pseudonym} готов."
    (sent,) = mail.outbox
    assert sent.subject == "Mimic: отчёт по звонку готов"
    assert sent.body.startswith(note.message + "\n") and call.report_url in sent.body


def test_chart_units_are_translated_when_the_chart_is_drawn():
    from illustrations.pilot import pilot_chart_svg
    from reports import charts

    def draw() -> str:
        return (
            charts.hbar_chart([("Длительность", 12.0, "#000")], title="t", desc="d", unit=" s", max_value=60)
            + charts.time_chart(
                [date(2026, 8, 3), date(2026, 8, 10)],
                [{"name": "n", "values": [3.0, 4.0]}],
                title="t",
                desc="d",
                unit=" min",
            )
            + pilot_chart_svg({"understand_median_s": 145.0})
        )

    with translation.override("ru"):
        russian = draw()
    assert "12.0 с</text>" in russian and "12.0 с</title>" in russian
    assert "0 мин</text>" in russian and "4.0 мин</title>" in russian
    assert "145 с</text>" in russian and "≤ 120 с</text>" in russian
    assert not re.search(r"\d (s|min)<", russian)
    with translation.override("en"):
        english = draw()
    assert "12.0 s</text>" in english and "0 min</text>" in english and "145 s</text>" in english
    assert (charts.SECONDS, charts.MINUTES) == ("s", "min")  # msgids, drawn through gettext
