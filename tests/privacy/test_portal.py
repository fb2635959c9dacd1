"""The privacy tools in the portal (admin role only): client export and erasure, audit log, retention."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from axes.models import AccessFailureLog
from django.urls import reverse
from django.utils import timezone

from calls.models import Call, Client, EmotionSample
from privacy.audit import audit
from privacy.models import AuditAction, AuditEvent, DestructionKind, DestructionRecord
from tests.support.privacy_world import build_world, failed_sign_in

pytestmark = pytest.mark.django_db

PAGES = ["privacy:home", "privacy:audit", "privacy:retention", "privacy:client"]


def _url(name: str, client_obj: Client) -> str:
    if name.startswith("privacy:client"):
        return reverse(name, args=[client_obj.pseudonym])
    return reverse(name)


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def _rule_row(html: str, model: str) -> str:
    match = re.search(rf'<tr data-rule="{re.escape(model)}">(.*?)</tr>', html, re.S)
    assert match, f"no row for {model}"
    return match.group(1)


def _cell(row: str, testid: str) -> str:
    match = re.search(rf'data-testid="{testid}">([^<]*)<', row)
    assert match, testid
    return match.group(1).strip()


# --- who may use them -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PAGES)
def test_pages_open_for_admins(admin_client, client_of_manager, name):
    assert admin_client.get(_url(name, client_of_manager)).status_code == 200


@pytest.mark.parametrize("name", PAGES)
@pytest.mark.parametrize("who", ["manager", "supervisor"])
def test_pages_are_404_for_managers_and_supervisors(client, request, client_of_manager, name, who):
    client.force_login(request.getfixturevalue(who))
    assert client.get(_url(name, client_of_manager)).status_code == 404


@pytest.mark.parametrize("name", PAGES)
def test_anonymous_users_are_sent_to_sign_in(client, client_of_manager, name):
    response = client.get(_url(name, client_of_manager))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


@pytest.mark.parametrize("who", ["manager", "supervisor"])
def test_actions_are_404_for_others_and_do_nothing(client, request, manager, who, settings):
    world = build_world(manager)
    pseudonym = world["client"].pseudonym
    settings.MIMIC_RETENTION_LOGIN_FAILURES_DAYS = 1
    failed_sign_in("someone", timezone.now() - timedelta(days=3))
    client.force_login(request.getfixturevalue(who))
    assert client.post(reverse("privacy:client_export", args=[pseudonym])).status_code == 404
    erase = client.post(reverse("privacy:client_erase", args=[pseudonym]), {"confirm": pseudonym})
    assert erase.status_code == 404
    assert client.post(reverse("privacy:purge_now")).status_code == 404
    assert Client.objects.filter(pk=world["client"].pk).exists()
    assert AccessFailureLog.objects.filter(username="someone").exists()
    assert not DestructionRecord.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditAction.CLIENT_EXPORT).exists()


def test_the_navigation_links_the_privacy_page_for_admins_only(client, admin_user, manager, supervisor):
    link = f'href="{reverse("privacy:home")}"'
    client.force_login(admin_user)
    assert link in client.get(reverse("calls:call_list")).content.decode()
    for user in (manager, supervisor):
        client.force_login(user)
        assert link not in client.get(reverse("calls:call_list")).content.decode()


def test_pages_speak_russian_by_default(admin_client, client_of_manager):
    html = admin_client.get(reverse("privacy:home")).content.decode()
    assert "Защита данных" in html and "Найти клиента" in html
    assert "Журнал аудита" in admin_client.get(reverse("privacy:audit")).content.decode()
    assert "Сроки хранения" in admin_client.get(reverse("privacy:retention")).content.decode()
    client_page = admin_client.get(reverse("privacy:client", args=[client_of_manager.pseudonym])).content.decode()
    assert "Скачать выгрузку" in client_page and "Удалить все данные этого клиента" in client_page


def test_pages_in_english_when_asked(english, admin_client):
    html = admin_client.get(reverse("privacy:home")).content.decode()
    assert "Find a client" in html and "Защита данных" not in html


# --- lookup ------------------------------------------------------------------------------------------


def test_lookup_by_exact_pseudonym_opens_the_client_page(admin_client, client_of_manager):
    response = admin_client.get(reverse("privacy:home"), {"pseudonym": f"  {client_of_manager.pseudonym} "})
    assert response.status_code == 302
    assert response["Location"] == reverse("privacy:client", args=[client_of_manager.pseudonym])
    page = admin_client.get(response["Location"]).content.decode()
    assert client_of_manager.pseudonym in page and "Иван Петров" in page


def test_lookup_of_an_unknown_or_partial_pseudonym_finds_nothing(admin_client, client_of_manager):
    partial = client_of_manager.pseudonym[:-1]
    response = admin_client.get(reverse("privacy:home"), {"pseudonym": partial})
    assert response.status_code == 200
    assert 'data-testid="not-found"' in response.content.decode()
    assert admin_client.get(reverse("privacy:client", args=["C-NOPE00"])).status_code == 404


def test_the_privacy_page_lists_clients(admin_client, manager, other_manager):
    first = Client.objects.create(display_name="А", manager=manager)
    second = Client.objects.create(display_name="Б", manager=other_manager)
    html = admin_client.get(reverse("privacy:home")).content.decode()
    for c in (first, second):
        assert f'href="{reverse("privacy:client", args=[c.pseudonym])}"' in html


# --- export ------------------------------------------------------------------------------------------


def test_export_downloads_the_clients_json_and_is_audited_once(admin_client, admin_user, manager, other_manager):
    mine = build_world(manager, name="Мария Иванова")
    build_world(other_manager, name="Пётр Сидоров")
    url = reverse("privacy:client_export", args=[mine["client"].pseudonym])
    assert admin_client.get(url).status_code == 405  # a download that writes the audit log is a POST
    response = admin_client.post(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment;")
    assert mine["client"].pseudonym in response["Content-Disposition"]
    export = json.loads(response.content)
    assert export["format"] == "mimic-client-export/1"
    assert export["client_id"] == str(mine["client"].pk)
    data = export["data"]
    assert data["emotions.Client"][0]["display_name"] == "Мария Иванова"
    assert [row["id"] for row in data["emotions.Call"]] == [str(mine["call"].pk)]
    assert len(data["emotions.EmotionSample"]) == EmotionSample.objects.filter(call=mine["call"]).count()
    assert "Пётр Сидоров" not in response.content.decode()
    events = AuditEvent.objects.filter(action=AuditAction.CLIENT_EXPORT, object_id=str(mine["client"].pk))
    assert [e.actor for e in events] == [admin_user]


# --- erasure -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["", "C-WRONG1", "yes"])
def test_erasure_is_refused_without_the_pseudonym_typed(admin_client, manager, typed):
    world = build_world(manager)
    url = reverse("privacy:client_erase", args=[world["client"].pseudonym])
    response = admin_client.post(url, {"confirm": typed})
    assert response.status_code == 200
    assert 'class="errorlist' in response.content.decode()
    assert Client.objects.filter(pk=world["client"].pk).exists()
    assert Call.objects.filter(pk=world["call"].pk).exists()
    assert not DestructionRecord.objects.exists()


def test_erasure_is_post_only(admin_client, manager):
    world = build_world(manager)
    assert admin_client.get(reverse("privacy:client_erase", args=[world["client"].pseudonym])).status_code == 405
    assert Client.objects.filter(pk=world["client"].pk).exists()


def test_erasure_with_the_pseudonym_typed_erases_and_shows_what_went(admin_client, admin_user, manager, other_manager):
    world = build_world(manager)
    kept = build_world(other_manager, name="Пётр Сидоров")
    client_id, pseudonym = str(world["client"].pk), world["client"].pseudonym
    samples = EmotionSample.objects.filter(call=world["call"]).count()
    response = admin_client.post(reverse("privacy:client_erase", args=[pseudonym]), {"confirm": pseudonym})
    assert response.status_code == 200
    assert not Client.objects.filter(pk=client_id).exists()
    assert not Call.objects.filter(pk=world["call"].pk).exists()
    assert Client.objects.filter(pk=kept["client"].pk).exists()
    record = DestructionRecord.objects.get(kind=DestructionKind.ERASURE, subject=client_id)
    assert record.actor_label == admin_user.username
    assert record.counts["emotions.EmotionSample"] == samples
    html = response.content.decode()
    assert "Данные клиента удалены" in html and pseudonym in html
    assert f'data-testid="total">{record.total}<' in html
    assert "Оценки эмоций в звонках" in html  # counts in people's words where the rules name the rows
    assert AuditEvent.objects.filter(action=AuditAction.CLIENT_ERASED, object_id=client_id, actor=admin_user).exists()


# --- audit log ---------------------------------------------------------------------------------------


def test_the_audit_log_lists_known_events_newest_first_in_local_time(admin_client, admin_user, call, settings):
    settings.TIME_ZONE = "Asia/Vladivostok"  # UTC+10, not the default Moscow
    for at, action in [
        (datetime(2026, 3, 1, 9, 0), AuditAction.CONSENT_GIVEN),
        (datetime(2026, 3, 2, 9, 0), AuditAction.VIEW_REPORT),
    ]:
        AuditEvent.objects.create(
            at=at.replace(tzinfo=UTC),
            actor=admin_user,
            actor_label=admin_user.username,
            action=action,
            object_type="emotions.Call",
            object_id=str(call.pk),
        )
    html = admin_client.get(reverse("privacy:audit")).content.decode()
    assert "Просмотр отчёта" in html and "Согласие дано" in html  # the actions' display labels
    assert str(call.pk) in html and "emotions.Call" in html and admin_user.username in html
    assert "01.03.2026 19:00:00" in html and "02.03.2026 19:00:00" in html  # 09:00 UTC in Vladivostok
    assert html.index('data-action="view_report"') < html.index('data-action="consent_given"')


def test_the_audit_log_filters_by_action(admin_client, admin_user, call):
    audit(admin_user, AuditAction.VIEW_REPORT, call)
    audit("client-link", AuditAction.CONSENT_GIVEN, call)
    html = admin_client.get(reverse("privacy:audit"), {"action": AuditAction.CONSENT_GIVEN}).content.decode()
    assert 'data-action="consent_given"' in html
    assert 'data-action="view_report"' not in html


def test_the_audit_log_is_paginated_by_25(admin_client, admin_user, call):
    for _ in range(30):
        audit(admin_user, AuditAction.VIEW_REPORT, call)
    first = admin_client.get(reverse("privacy:audit"), {"action": AuditAction.VIEW_REPORT})
    assert first.content.decode().count('data-action="view_report"') == 25
    assert "action=view_report&amp;page=2" in first.content.decode()
    second = admin_client.get(reverse("privacy:audit"), {"action": AuditAction.VIEW_REPORT, "page": 2})
    assert second.content.decode().count('data-action="view_report"') == 5


# --- retention ---------------------------------------------------------------------------------------


def test_retention_shows_the_expired_rows_and_purge_now_destroys_them(admin_client, admin_user, settings):
    settings.MIMIC_RETENTION_LOGIN_FAILURES_DAYS = 1
    settings.MIMIC_RETENTION_FEEDBACK_DAYS = 0
    failed_sign_in("old", timezone.now() - timedelta(days=3))
    failed_sign_in("new", timezone.now())

    html = admin_client.get(reverse("privacy:retention")).content.decode()
    row = _rule_row(html, "axes.AccessFailureLog")
    assert "Неудачные попытки входа" in row
    assert _cell(row, "expired") == "1"
    assert _cell(row, "last-purged") == "—"
    assert "хранится бессрочно" in _rule_row(html, "reports.ClientFeedback")
    assert "Очистка ещё не запускалась" in html

    response = admin_client.post(reverse("privacy:purge_now"), follow=True)
    assert response.redirect_chain == [(reverse("privacy:retention"), 302)]
    assert list(AccessFailureLog.objects.values_list("username", flat=True)) == ["new"]
    record = DestructionRecord.objects.get(kind=DestructionKind.RETENTION)
    assert record.counts == {"axes.AccessFailureLog": 1}
    assert record.actor_label == admin_user.username
    assert AuditEvent.objects.get(action=AuditAction.RETENTION_PURGE).actor == admin_user

    html = response.content.decode()
    assert "Очистка выполнена: уничтожена 1 запись." in html
    row = _rule_row(html, "axes.AccessFailureLog")
    assert _cell(row, "expired") == "0"
    assert _cell(row, "last-purged") == "1"


def test_purge_now_is_post_only(admin_client):
    assert admin_client.get(reverse("privacy:purge_now")).status_code == 405
    assert not DestructionRecord.objects.exists()
