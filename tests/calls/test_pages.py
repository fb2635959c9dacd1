"""The live-call pages: one-click start, the client's consent and its record, withdrawal, notifications."""

from __future__ import annotations

import json
import re

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils.html import escape

from calls.lifecycle import give_consent, start_call
from calls.models import EXPRESSION_NAMES, Call, CallStatus, Consent, Notification
from calls.protocol import call_id_from_token, make_client_token
from privacy.consent import CURRENT_VERSION, current_text, text_for
from privacy.models import AuditAction, AuditEvent

pytestmark = pytest.mark.django_db


def test_start_call_creates_a_live_call_and_shows_the_client_link(manager_client, manager, client_of_manager):
    response = manager_client.post(reverse("calls:start_call"), {"client": client_of_manager.pk, "capture_fps": 3})
    call = Call.objects.get(manager=manager)
    assert response.status_code == 302 and response.url == reverse("calls:call_live", args=[call.pk])
    assert call.status == CallStatus.LIVE and call.started_at is not None and call.capture_fps == 3
    page = manager_client.get(response.url).content.decode()
    token = page.split("/calls/c/")[1].split("/")[0]
    assert call_id_from_token(token) == call.pk
    assert f'data-ws-path="/ws/calls/{call.pk}/live/"' in page


def test_start_call_can_create_a_new_client(manager_client, manager):
    manager_client.post(reverse("calls:start_call"), {"new_client_name": "Пётр Сидоров", "capture_fps": 2})
    assert Call.objects.get(manager=manager).client.display_name == "Пётр Сидоров"


def test_the_live_page_is_the_call_managers_alone(client, call, other_manager, supervisor):
    for user in (other_manager, supervisor):
        client.force_login(user)
        assert client.get(reverse("calls:call_live", args=[call.pk])).status_code == 404
        assert client.post(reverse("calls:call_end", args=[call.pk])).status_code == 404


def test_a_token_is_bound_to_its_call_and_salt(call):
    assert call_id_from_token(make_client_token(call.pk)) == call.pk
    assert call_id_from_token(make_client_token(call.pk) + "x") is None
    from django.core import signing

    assert call_id_from_token(signing.dumps({"call": str(call.pk)})) is None


def test_the_client_page_asks_for_consent_before_any_capture(client, call):
    start_call(call)
    url = reverse("calls:client_capture", args=[make_client_token(call.pk)])
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    text = current_text("ru")
    assert text.purpose in page and text.withdrawal in page and 'name="agree"' in page
    assert "frontend/client.js" not in page  # no camera script before consent
    assert client.post(url, {}).status_code == 200  # unticked: still no consent
    assert not Consent.objects.exists()
    assert client.post(url, {"agree": "on"}).status_code == 302
    consent = Consent.objects.get(call=call)
    assert (
        consent.text_version == CURRENT_VERSION
        and consent.text_sha256 == text_for(consent.text_version, consent.language, consent.operator).sha256
    )
    assert AuditEvent.objects.filter(action=AuditAction.CONSENT_GIVEN, object_id=str(consent.pk)).exists()
    page = client.get(url).content.decode()
    assert "frontend/client.js" in page and f"/ws/calls/{call.pk}/capture/" in page


def test_the_consent_record_is_its_own_printable_page(client, call):
    consent = give_consent(call, "en")
    page = client.get(reverse("calls:client_consent_record", args=[make_client_token(call.pk)])).content.decode()
    text = consent.text()
    for part in (text.operator, text.purpose, text.term, text.withdrawal, consent.text_sha256, *text.data):
        assert escape(part) in page
    assert "does not match" not in page


def test_stop_withdraws_and_the_link_then_only_says_thank_you(client, call):
    start_call(call)
    give_consent(call, "ru")
    token = make_client_token(call.pk)
    client.post(reverse("calls:client_stop", args=[token]))
    consent = Consent.objects.get(call=call)
    assert consent.withdrawn_at is not None and consent.withdrawn_by == "client"
    page = client.get(reverse("calls:client_capture", args=[token])).content.decode()
    assert 'name="agree"' not in page and "frontend/client.js" not in page


def test_a_tampered_client_link_is_404(client, call):
    assert client.get(reverse("calls:client_capture", args=["nonsense:token"])).status_code == 404


def test_unread_notifications_show_in_the_nav(manager_client, manager, call):
    Notification.objects.create(user=manager, call=call, message="The report is ready.", url="/x/")
    page = manager_client.get(reverse("calls:call_list")).content.decode()
    assert 'class="nav-badge">1<' in page
    manager_client.post(reverse("calls:notifications"))
    assert Notification.objects.unread().count() == 0


@pytest.mark.parametrize(
    ("language", "in_summary", "in_withdrawal"),
    [("ru", "«{}»", "«{}»"), ("en", "the {} button", "Press {} on this page")],
)
def test_the_consent_text_names_the_button_the_page_shows(client, call, language, in_summary, in_withdrawal):
    start_call(call)
    give_consent(call, language)
    url = reverse("calls:client_capture", args=[make_client_token(call.pk)])
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language  # the language switch's choice (not the browser's)
    page = client.get(url).content.decode()
    button = re.search(r'<form id="stop-form"[^>]*>.*?<button[^>]*>([^<]+)</button>', page, re.S).group(1).strip()
    text = current_text(language)
    assert in_summary.format(button) in text.summary
    assert in_withdrawal.format(button) in text.withdrawal


# --- the manager's live page: what its script is handed, and the layout states the server renders ------


def _live_texts(page: str) -> dict:
    script = re.search(r'<script id="live-text" type="application/json">(.*?)</script>', page, re.S)
    return json.loads(script.group(1))


def test_the_live_page_hands_its_script_the_texts_in_russian(manager_client, call):
    start_call(call)
    texts = _live_texts(manager_client.get(reverse("calls:call_live", args=[call.pk])).content.decode())
    assert texts["analysing"] == "Идёт анализ, лицо в кадре"
    assert texts["no_face"] == "Лица нет в кадре {n} с"  # the script puts the seconds in
    assert texts["no_frames"] == "Нет кадров от клиента {n} с"
    assert texts["paused"] == "Пауза: сервис недоступен"
    assert texts["connecting"] == "Подключение…"
    assert texts["status_ended"] == "Завершён"
    assert texts["confirm_end"] == "Завершить звонок? Анализ остановится, и будет подготовлен отчёт."
    assert texts["withdrawn"].startswith("Клиент отозвал согласие") and "удалены" in texts["withdrawn"]
    assert texts["labels"]["happy"] == "Радость" and set(texts["labels"]) == set(EXPRESSION_NAMES)
    # Every string the script can show is Russian: nothing falls back to the English msgid.
    strings = [*texts["labels"].values(), *(v for k, v in texts.items() if k != "labels")]
    untranslated = [s for s in strings if not re.search("[а-яё]", s, re.I)]
    assert untranslated == []


def test_the_link_and_dion_cards_fold_to_one_line_once_the_client_has_consented(manager_client, call):
    start_call(call)
    url = reverse("calls:call_live", args=[call.pk])
    folds = r'<details class="card fold" id="(link-card|dion-card)"( open)?>'
    page = manager_client.get(url).content.decode()
    assert re.findall(folds, page) == [("link-card", " open"), ("dion-card", " open")]
    give_consent(call, "ru")
    page = manager_client.get(url).content.decode()
    assert re.findall(folds, page) == [("link-card", ""), ("dion-card", "")]
    # Folded, the summary line still says the consent and has the Copy button.
    summary = re.search(r'id="link-card">\s*<summary>(.*?)</summary>', page, re.S).group(1)
    assert 'id="copy-link"' in summary and 'data-state="given"' in summary and "Клиент дал согласие" in summary


def test_after_a_withdrawal_the_live_page_says_the_data_is_deleted_and_links_no_report(manager_client, call):
    start_call(call)
    give_consent(call, "ru")
    manager_client.post(reverse("calls:call_withdraw", args=[call.pk]))
    page = manager_client.get(reverse("calls:call_live", args=[call.pk])).content.decode()
    assert "Клиент отозвал согласие: анализ остановлен, данные об эмоциях по этому звонку удалены." in page
    assert 'data-state="withdrawn"' in page
    assert "Открыть отчёт" not in page and reverse("reports:call_report", args=[call.pk]) not in page
