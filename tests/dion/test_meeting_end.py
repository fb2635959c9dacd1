"""The end of the Dion meeting seen through GET /events/{id}/users ends the call, with no End click: once every
session has ended and stayed ended for the grace period, within the request budget."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from calls import lifecycle
from calls.models import Call, CallStatus
from dion import bot, services, tasks
from dion.models import DionMeeting
from dion.worker import BotWorker
from reports.models import CallReport
from tests.dion.conftest import MANAGER_DION_ID
from tests.support.dion_fake import Scripted

CLIENT_LINK = "https://mimic.bank.example/calls/c/token/"


@pytest.fixture
def live_call(dion_settings, dion_manager, client_of_manager) -> Call:
    """A call started in the portal, with its Dion meeting."""
    call = Call.objects.create(manager=dion_manager, client=client_of_manager)
    lifecycle.start_call(call, CLIENT_LINK)
    call.refresh_from_db()
    assert call.status == CallStatus.LIVE and call.dion_meeting.room_id
    return call


def _status(call: Call) -> str:
    call.refresh_from_db(fields=["status"])
    return call.status


def test_the_meeting_ending_in_dion_ends_the_call_and_the_report_follows(
    live_call, dion_server, dion_settings, eager_celery
):
    lifecycle.give_consent(live_call, "ru")  # the client agreed on the consent page
    event_id = live_call.dion_meeting.room_id
    dion_server.join(event_id, MANAGER_DION_ID)
    dion_server.join(event_id, "dion-guest-client")
    now = timezone.now() + dt.timedelta(seconds=1)

    assert services.poll_meetings(now) == 0  # both are in the meeting
    dion_server.leave_all(event_id)  # the meeting ends on Dion's side
    later = timezone.now() + dt.timedelta(seconds=1)
    assert services.poll_meetings(later) == 0  # ended, but not yet for the grace period
    assert _status(live_call) == CallStatus.LIVE
    assert services.poll_meetings(later + dt.timedelta(seconds=59)) == 0
    assert services.poll_meetings(later + dt.timedelta(seconds=60)) == 1

    assert _status(live_call) == CallStatus.ENDED
    assert CallReport.objects.filter(call=live_call).exists()
    polls = dion_server.requests("GET", f"/v1/events/{event_id}/users")
    assert len(polls) == 4 and all(p.query["time_start"] and p.query["time_end"] for p in polls)
    # Over: the meeting is not polled again.
    assert services.poll_meetings(later + dt.timedelta(seconds=120)) == 0
    assert len(dion_server.requests("GET", f"/v1/events/{event_id}/users")) == 4


def test_someone_back_in_the_meeting_within_the_grace_period_keeps_the_call(live_call, dion_server):
    event_id = live_call.dion_meeting.room_id
    dion_server.join(event_id, MANAGER_DION_ID)
    dion_server.leave_all(event_id)
    start = timezone.now() + dt.timedelta(seconds=1)
    services.poll_meetings(start)
    assert DionMeeting.objects.get(call=live_call).sessions_ended_at == start

    dion_server.join(event_id, MANAGER_DION_ID)  # the manager's connection dropped and came back
    services.poll_meetings(start + dt.timedelta(seconds=30))
    assert DionMeeting.objects.get(call=live_call).sessions_ended_at is None
    assert services.poll_meetings(start + dt.timedelta(seconds=90)) == 0
    assert _status(live_call) == CallStatus.LIVE


def test_a_meeting_nobody_has_joined_yet_does_not_end_the_call(live_call, dion_server):
    assert services.poll_meetings(timezone.now() + dt.timedelta(hours=1)) == 0
    assert _status(live_call) == CallStatus.LIVE


def test_the_celery_task_ends_the_call_from_the_api_answer_alone(live_call, dion_server, dion_settings, eager_celery):
    dion_settings.DION_MEETING_END_GRACE_SECONDS = 0
    event_id = live_call.dion_meeting.room_id
    dion_server.join(event_id, "dion-guest-client")
    dion_server.leave_all(event_id)

    assert tasks.poll_meetings.delay().get() == 1
    assert _status(live_call) == CallStatus.ENDED


def test_the_bot_worker_polls_meetings_in_the_embedded_shape(live_call, dion_server, dion_settings):
    dion_settings.DION_BOT_POLLS_MEETINGS = True
    dion_settings.DION_MEETING_END_GRACE_SECONDS = 0
    event_id = live_call.dion_meeting.room_id
    dion_server.join(event_id, "dion-guest-client")
    dion_server.leave_all(event_id)

    BotWorker(bot.client_from_settings()).poll_meetings_if_due()

    assert _status(live_call) == CallStatus.ENDED


def test_each_run_polls_at_most_the_configured_number_least_recently_polled_first(
    dion_settings, dion_server, dion_manager, client_of_manager
):
    calls = []
    for _ in range(3):
        call = Call.objects.create(manager=dion_manager, client=client_of_manager)
        lifecycle.start_call(call, CLIENT_LINK)
        calls.append(call)
    dion_settings.DION_POLL_MAX_MEETINGS = 2
    dion_server.seen.clear()

    now = timezone.now()
    services.poll_meetings(now)
    services.poll_meetings(now + dt.timedelta(seconds=30))

    polled = [s.route.split("/")[3] for s in dion_server.requests("GET", "/v1/events/")]
    ids = [c.dion_meeting.room_id for c in calls]
    assert len(polled) == 4
    assert set(polled[:2]) | set(polled[2:]) == set(ids)  # the third meeting waited for the second run only
    assert len(set(polled[:2])) == 2


def test_dion_unreachable_or_over_budget_stops_the_run_and_the_call_stays(live_call, dion_server, dion_settings):
    dion_server.script.extend(
        Scripted(429, {"message": "slow down"}, headers={"Retry-After": "0"}, method="GET") for _ in range(5)
    )
    dion_settings.DION_IAPI_RETRIES = 0
    assert services.poll_meetings() == 0
    assert _status(live_call) == CallStatus.LIVE


def test_without_the_iapi_nothing_is_polled(settings, dion_server, call):
    settings.DION_ACCESS_TOKEN = settings.DION_ACCESS_TOKEN_FILE = ""
    assert services.poll_meetings() == 0
    assert dion_server.seen == []
