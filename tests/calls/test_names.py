"""Client names for the manager who owns the relationship, pseudonyms for everyone and everything else."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.template.loader import render_to_string
from django.urls import reverse

from calls.models import Call, Client
from reports.content import build_report_context
from tests.privacy.test_encryption import _raw_columns
from tests.support.reports import make_call

pytestmark = pytest.mark.django_db

NAME = "Иван Петров"  # client_of_manager


def _page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def _label(client_obj: Client) -> str:
    """What the own manager sees: the name, the pseudonym beside it, small."""
    return f'{NAME} <small class="pseudonym">{client_obj.pseudonym}</small>'


@pytest.fixture
def ended_call(manager, client_of_manager) -> Call:
    return make_call(manager, client_of_manager, negative=[(10, 20)])


def test_the_rule_shows_the_name_to_the_clients_own_manager_only(
    manager, other_manager, supervisor, admin_user, client_of_manager
):
    assert client_of_manager.name_for(manager) == NAME
    for viewer in (other_manager, supervisor, admin_user, AnonymousUser(), None, ""):
        assert client_of_manager.name_for(viewer) == client_of_manager.pseudonym
    supervised = Client.objects.create(display_name="Клиент руководителя", manager=supervisor)
    assert supervised.name_for(supervisor) == supervised.pseudonym  # owners who are not managers: pseudonym


def test_the_own_manager_sees_the_name_in_the_call_list_and_the_start_form(manager_client, call):
    page = _page(manager_client, reverse("calls:call_list"))
    assert f"<td>{_label(call.client)}</td>" in page
    assert f'<option value="{call.client.pk}">{NAME} · {call.client.pseudonym}</option>' in page


def test_a_manager_who_typed_a_new_name_sees_it_and_it_is_encrypted_at_rest(manager_client, manager):
    manager_client.post(reverse("calls:start_call"), {"new_client_name": "Пётр Сидоров", "capture_fps": 2})
    call = Call.objects.get(manager=manager)
    live = _page(manager_client, reverse("calls:call_live", args=[call.pk]))
    assert f'Пётр Сидоров <small class="pseudonym">{call.client.pseudonym}</small>' in live
    raw_name, _email, _phone = _raw_columns(call.client)  # the approach of tests/privacy/test_encryption.py
    assert "Пётр" not in raw_name and "Сидоров" not in raw_name and raw_name.startswith("gAAAAA")


def test_the_own_manager_sees_the_name_on_the_live_page(manager_client, call):
    page = _page(manager_client, reverse("calls:call_live", args=[call.pk]))
    assert _label(call.client) in page[page.index("<h1>") : page.index("</h1>")]


def test_the_own_manager_sees_the_name_on_the_call_detail_and_the_report(manager_client, ended_call):
    detail = _page(manager_client, reverse("calls:call_detail", args=[ended_call.pk]))
    assert _label(ended_call.client) in detail[detail.index("<h1>") : detail.index("</h1>")]
    assert f"<dd>{_label(ended_call.client)}</dd>" in detail
    report = _page(manager_client, reverse("reports:call_report", args=[ended_call.pk]))
    header = report[report.index('<header class="report-head">') :]
    header = header[: header.index("</header>")]
    assert _label(ended_call.client) in header


@pytest.mark.parametrize("viewer", ["supervisor", "admin_user"])
def test_supervisors_and_admins_see_only_the_pseudonym(client, request, ended_call, viewer):
    client.force_login(request.getfixturevalue(viewer))
    for url in (
        reverse("calls:call_list"),
        reverse("calls:call_detail", args=[ended_call.pk]),
        reverse("reports:call_report", args=[ended_call.pk]),
    ):
        page = _page(client, url)
        assert ended_call.client.pseudonym in page
        assert NAME not in page and "Иван" not in page


def test_another_manager_still_gets_404(client, other_manager, ended_call, call):
    client.force_login(other_manager)
    for url in (
        reverse("calls:call_detail", args=[ended_call.pk]),
        reverse("reports:call_report", args=[ended_call.pk]),
        reverse("calls:call_live", args=[call.pk]),
    ):
        assert client.get(url).status_code == 404


def test_exports_dashboards_and_trends_keep_the_pseudonym_even_for_the_own_manager(manager_client, ended_call):
    pseudonym = ended_call.client.pseudonym
    for url in (
        reverse("reports:call_report_csv", args=[ended_call.pk]),
        reverse("reports:dashboard_csv"),
        reverse("reports:dashboard"),
        reverse("reports:trends"),
        reverse("reports:client_trend", args=[ended_call.client_id]),
    ):
        page = _page(manager_client, url)
        assert pseudonym in page, url
        assert NAME not in page and "Иван" not in page, url


def test_the_cached_pdf_which_supervisors_download_too_has_the_pseudonym_only(manager, ended_call):
    html = render_to_string("reports/call_report_pdf.html", build_report_context(ended_call.report, "pdf"))
    assert ended_call.client.pseudonym in html
    assert NAME not in html
