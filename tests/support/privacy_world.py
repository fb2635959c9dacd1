"""A manager's complete "world" of personal data, for access, export and erasure tests (privacy app).

Builds one of every object that can be about a client, using whatever models are installed, so the
tests see rows that other apps add. Keys are model names in lower case (plus short aliases).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.apps import apps
from django.core.files.base import ContentFile
from django.db import connection
from django.utils import timezone

from calls.models import Call, CallStatus, Client, EmotionSample, ScoredFrame
from engine.analytics import summarize
from engine.labels import EXPRESSIONS


def _model(label: str):
    """The model, if installed and migrated (other apps' models appear while they are being built)."""
    try:
        model = apps.get_model(label)
    except LookupError:
        return None
    return model if model._meta.db_table in connection.introspection.table_names() else None


def build_world(manager, *, name: str = "Мария Иванова", with_file: bool = False) -> dict[str, Any]:
    now = timezone.now()
    world: dict[str, Any] = {}
    client = Client.objects.create(
        display_name=name, email="maria@example.ru", phone="+7 900 000-00-00", manager=manager
    )
    call = Call.objects.create(
        manager=manager,
        client=client,
        status=CallStatus.ENDED,
        started_at=now - timedelta(minutes=5),
        ended_at=now - timedelta(minutes=1),
    )
    world.update(client=client, call=call)
    probs = [[0.7, 0.1, 0.05, 0.05, 0.04, 0.02, 0.02, 0.02], [0.1, 0.1, 0.0, 0.6, 0.1, 0.05, 0.05, 0.0]]
    assert len(probs[0]) == len(EXPRESSIONS)
    t_ms, faces, rows = [], [], []
    for seq in range(6):
        p = probs[seq % 2]
        EmotionSample.objects.store_timeline(call, [ScoredFrame.from_probs(call.pk, seq, seq * 500, True, p)], now)
        t_ms.append(seq * 500)
        faces.append(True)
        rows.append(p)
    world["emotionsample"] = EmotionSample.objects.filter(call=call).first()
    if CallReport := _model("reports.CallReport"):
        world["callreport"] = world["report"] = CallReport.store(call, summarize(t_ms, faces, rows))
        if ReportPdf := _model("reports.ReportPdf"):
            world["reportpdf"] = ReportPdf.objects.create(
                report=world["report"], version="x", language="xx", status="ready", pdf=b"%PDF-1.4 test"
            )
    if ClientFeedback := _model("reports.ClientFeedback"):
        world["clientfeedback"] = ClientFeedback.objects.create(call=call, rating=4, upset=False)
    if Recording := _model("reports.Recording"):
        recording = Recording(manager=manager, uploaded_by=manager, client=client, call=call, original_name="call.flv")
        if with_file:
            recording.file.save("privacy-test.flv", ContentFile(b"not really a video"), save=False)
        recording.save()
        world["recording"] = recording
    if Consent := _model("emotions.Consent"):
        world["consent"] = Consent.objects.create(
            call=call, text_version="test", text_sha256="0" * 64, language="ru", operator="Bank"
        )
    if DionMeeting := _model("dion.DionMeeting"):
        world["dionmeeting"] = DionMeeting.objects.create(
            call=call, room_id=f"room-{call.pk}", room_url="https://dion.example/r/1"
        )
    if Illustration := _model("illustrations.Illustration"):
        illustration = Illustration.objects.create(
            manager=manager, client_label=name[:80], initial_amount=100000, horizon_years=3
        )
        world["illustration"] = illustration
        if Product := _model("illustrations.Product"):
            world["product"] = Product.objects.create(illustration=illustration, position=0, name="Вклад", rate_pct=12)
        if ShareLink := _model("illustrations.ShareLink"):
            world["sharelink"] = world["link"] = ShareLink.objects.create(
                illustration=illustration, expires_at=now + timedelta(days=7)
            )
    return world


def object_for_kwarg(world: dict[str, Any], kwarg: str) -> Any:
    """The world's object for a URL kwarg such as ``call_id`` or ``link_id``."""
    key = kwarg.removesuffix("_id").replace("_", "")
    if key not in world:
        raise KeyError(f"no object for URL kwarg {kwarg!r}: add it to tests/privacy_world.build_world")
    return world[key]


def failed_sign_in(username: str, at) -> Any:
    """One failed sign-in in django-axes' failure log, dated ``at`` (the column is auto_now_add)."""
    from axes.models import AccessFailureLog

    row = AccessFailureLog.objects.create(
        username=username, ip_address="127.0.0.1", user_agent="tests", http_accept="*/*", path_info="/accounts/login/"
    )
    AccessFailureLog.objects.filter(pk=row.pk).update(attempt_time=at)
    return row
