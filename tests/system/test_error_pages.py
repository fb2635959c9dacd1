"""The 400, 403, 404 and 500 pages: the portal's header and stylesheet, Russian first, nothing about the error."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.template.loader import render_to_string
from django.test import Client as HttpClient
from django.urls import path, reverse
from django.utils import translation

ENGLISH_BROWSER = "en-US,en;q=0.9"
LEAKS = ("Traceback", "SECRET_KEY", "settings.py", "URLconf", "Resolver404", "PermissionDenied", "CSRF_FAILURE")


def _boom(request):
    raise RuntimeError("internal detail: db password is hunter2")


urlpatterns = [path("boom/", _boom)]


def _assert_portal_page(html: str, lang: str = "ru") -> None:
    assert f'<html lang="{lang}">' in html
    assert '<header class="topbar">' in html and '<a class="brand" href="/">Mimic</a>' in html
    assert "/static/css/mimic.css" in html
    for leak in LEAKS:
        assert leak not in html, leak


@pytest.mark.django_db
def test_a_missing_page_is_the_portals_russian_404_with_the_language_switch(settings, client):
    settings.DEBUG = False
    response = client.get("/no-such-page/", HTTP_ACCEPT_LANGUAGE=ENGLISH_BROWSER)
    html = response.content.decode()
    assert response.status_code == 404
    _assert_portal_page(html)
    assert "<title>Страница не найдена · Mimic</title>" in html and "Такой страницы нет" in html
    assert f'action="{reverse("set_language")}"' in html and 'name="language" value="en"' in html
    assert "Page not found" not in html


@pytest.mark.django_db
def test_the_404_is_english_once_english_is_chosen(settings, client):
    settings.DEBUG = False
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
    response = client.get("/calls/not-a-uuid/")
    assert response.status_code == 404
    html = response.content.decode()
    _assert_portal_page(html, lang="en")
    assert "Page not found" in html and "Страница не найдена" not in html


def test_permission_denied_is_the_portals_russian_403(settings, client, supervisor):
    settings.DEBUG = False
    client.force_login(supervisor)  # only managers start calls
    response = client.post(reverse("calls:start_call"), {}, HTTP_ACCEPT_LANGUAGE=ENGLISH_BROWSER)
    assert response.status_code == 403
    html = response.content.decode()
    _assert_portal_page(html)
    assert "Доступ запрещён" in html and "У вас нет прав на просмотр этой страницы." in html


@pytest.mark.django_db
def test_a_csrf_failure_is_the_portals_russian_403(settings):
    settings.DEBUG = False
    http = HttpClient(enforce_csrf_checks=True)
    response = http.post(reverse("accounts:login"), {"username": "x", "password": "y"})
    assert response.status_code == 403
    html = response.content.decode()
    _assert_portal_page(html)
    assert "Доступ запрещён" in html and "Срок действия формы истёк" in html
    assert "CSRF verification failed" not in html and "Ошибка проверки CSRF" not in html  # not Django's own page


@pytest.mark.django_db
def test_a_bad_host_is_the_portals_russian_400(settings, client):
    settings.DEBUG = False
    response = client.get(reverse("accounts:login"), HTTP_HOST="evil.example")
    assert response.status_code == 400
    html = response.content.decode()
    _assert_portal_page(html)
    assert "Неверный запрос" in html and "evil.example" not in html


def test_the_500_page_renders_standalone_in_russian():
    # server_error renders 500.html with no request and no context: no user, no database, no CSRF token.
    with translation.override("ru"):
        html = render_to_string("500.html")
    _assert_portal_page(html)
    assert "<title>Ошибка сервера · Mimic</title>" in html and "Попробуйте ещё раз через несколько" in html
    assert "<form" not in html  # no language switch without a request to post it from
    with translation.override("en"):
        assert "Server error" in render_to_string("500.html")


@pytest.mark.urls("tests.system.test_error_pages")
def test_an_unhandled_error_shows_the_russian_500_and_nothing_of_the_error(settings, db):
    settings.DEBUG = False
    response = HttpClient(raise_request_exception=False).get("/boom/", HTTP_ACCEPT_LANGUAGE=ENGLISH_BROWSER)
    assert response.status_code == 500
    html = response.content.decode()
    _assert_portal_page(html)
    assert "Ошибка сервера" in html
    assert "hunter2" not in html and "RuntimeError" not in html and "_boom" not in html
