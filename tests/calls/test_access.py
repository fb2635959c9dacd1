from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from calls.models import Call, CallStatus, Client, EmotionSample

pytestmark = pytest.mark.django_db


def _call_for(manager) -> Call:
    client = Client.objects.create(display_name="Клиент", manager=manager)
    return Call.objects.create(manager=manager, client=client, status=CallStatus.ENDED)


def test_a_manager_opens_their_own_call(client, manager):
    call = _call_for(manager)
    client.force_login(manager)
    response = client.get(reverse("calls:call_detail", args=[call.id]))
    assert response.status_code == 200
    assert call.client.pseudonym in response.content.decode()


def test_the_call_page_links_to_its_report(client, manager):
    from engine.analytics import summarize
    from reports.models import CallReport

    call = _call_for(manager)
    CallReport.store(call, summarize([0, 500], [True, True], [[1, 0, 0, 0, 0, 0, 0, 0]] * 2))
    client.force_login(manager)
    page = client.get(reverse("calls:call_detail", args=[call.id])).content.decode()
    assert reverse("reports:call_report", args=[call.id]) in page


def test_a_manager_gets_404_for_another_managers_call(client, manager, other_manager):
    foreign = _call_for(other_manager)
    client.force_login(manager)
    assert client.get(reverse("calls:call_detail", args=[foreign.id])).status_code == 404


def test_a_supervisor_sees_the_team_but_not_an_outsider(client, supervisor, manager, other_manager, outsider):
    mine, theirs, outside = _call_for(manager), _call_for(other_manager), _call_for(outsider)
    client.force_login(supervisor)
    assert client.get(reverse("calls:call_detail", args=[mine.id])).status_code == 200
    assert client.get(reverse("calls:call_detail", args=[theirs.id])).status_code == 200
    assert client.get(reverse("calls:call_detail", args=[outside.id])).status_code == 404
    assert set(Call.objects.for_supervisor(supervisor)) == {mine, theirs}


def test_an_admin_sees_every_call(admin_user, manager, outsider):
    calls = {_call_for(manager), _call_for(outsider)}
    assert set(Call.objects.for_user(admin_user)) == calls


def test_the_call_list_shows_only_the_managers_own_calls(client, manager, other_manager):
    own, foreign = _call_for(manager), _call_for(other_manager)
    client.force_login(manager)
    page = client.get(reverse("calls:call_list")).content.decode()
    assert str(own.get_absolute_url()) in page
    assert str(foreign.get_absolute_url()) not in page


def test_anonymous_visitors_are_sent_to_sign_in(client, call):
    response = client.get(reverse("calls:call_detail", args=[call.id]))
    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]


def test_a_sample_is_unique_per_call_and_seq(call):
    EmotionSample.objects.create(call=call, seq=7, offset_ms=3500, face_found=False)
    with pytest.raises(IntegrityError), transaction.atomic():
        EmotionSample.objects.create(call=call, seq=7, offset_ms=3500, face_found=False)
    other = Call.objects.create(manager=call.manager, client=call.client)
    EmotionSample.objects.create(call=other, seq=7, offset_ms=3500, face_found=False)
    assert EmotionSample.objects.filter(seq=7).count() == 2
