from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from engine.labels import label_of, valence_of
from lib.querysets import VisibleToUserQuerySet
from privacy.consent import ConsentText, text_for
from privacy.fields import EncryptedTextField


def _pseudonym() -> str:
    return "C-" + secrets.token_hex(3).upper()


class Client(models.Model):
    """A bank client. Analytics refer to the pseudonym; the name is shown only to staff."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    pseudonym = models.CharField(max_length=16, unique=True, default=_pseudonym)
    # Identifying data lives only here, encrypted at rest (privacy.fields); analytics use the id/pseudonym.
    display_name = EncryptedTextField(max_length=200)
    email = EncryptedTextField(max_length=254, blank=True, default="")
    phone = EncryptedTextField(max_length=32, blank=True, default="")
    manager = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="clients")
    created = models.DateTimeField(default=timezone.now)

    objects = VisibleToUserQuerySet.as_manager()

    class Meta:
        ordering = ["pseudonym"]

    def __str__(self) -> str:
        return self.pseudonym

    def shows_name_to(self, user) -> bool:
        """The one rule for showing the client's name: only to the manager who owns the relationship.

        Supervisors, admins, dashboards, trends, exports and anything rendered without a viewer (the cached PDF)
        get the pseudonym, so a name is shown by role, never by accident.
        """
        return bool(
            getattr(user, "is_authenticated", False)
            and getattr(user, "is_manager", False)
            and user.pk == self.manager_id
        )

    def name_for(self, user) -> str:
        """The display name for the client's own manager, the pseudonym for everyone else."""
        return self.display_name if self.shows_name_to(user) else self.pseudonym


class CallStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    LIVE = "live", _("Live")
    ENDED = "ended", _("Ended")
    FAILED = "failed", _("Failed")


# The statuses of a call that is not over yet: frames may still be analysed and stored.
OPEN_STATUSES = (CallStatus.SCHEDULED, CallStatus.LIVE)


class CallSource(models.TextChoices):
    LIVE = "live", _("Live call")
    UPLOAD = "upload", _("Uploaded recording")


class CallQuerySet(VisibleToUserQuerySet):
    """Every change of a call's status is one of these methods (SCHEDULED -> LIVE -> ENDED)."""

    def for_manager(self, user) -> CallQuerySet:
        return self.filter(manager=user)

    def for_supervisor(self, user) -> CallQuerySet:
        return self.filter(manager__supervisor=user)

    def live(self) -> CallQuerySet:
        return self.filter(status=CallStatus.LIVE)

    def open(self) -> CallQuerySet:
        return self.filter(status__in=OPEN_STATUSES)

    def idle(self, seconds: int, now=None) -> CallQuerySet:
        """Open live calls with no frame (or, before the first frame, no start) for ``seconds``."""
        cutoff = (now or timezone.now()) - timedelta(seconds=seconds)
        return self.filter(status=CallStatus.LIVE).filter(
            models.Q(last_frame_at__lt=cutoff) | models.Q(last_frame_at__isnull=True, started_at__lt=cutoff)
        )

    def start(self, call_id, now=None) -> bool:
        """A scheduled call goes live (the manager pressed Start, or the client's camera connected first); the
        idle clock runs from now. True only for the caller that started it."""
        return bool(
            self.filter(pk=call_id, status=CallStatus.SCHEDULED).update(
                status=CallStatus.LIVE, started_at=now or timezone.now()
            )
        )

    def touch(self, call_id, now=None) -> None:
        """A frame arrived: the idle clock starts again."""
        self.filter(pk=call_id).update(last_frame_at=now or timezone.now())

    def end(self, call_id, now=None) -> bool:
        """End the call if it is still open; True only for the caller that ended it (so finalising runs once)."""
        return bool(self.open().filter(pk=call_id).update(status=CallStatus.ENDED, ended_at=now or timezone.now()))


class Call(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    manager = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="calls")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="calls")
    status = models.CharField(max_length=16, choices=CallStatus.choices, default=CallStatus.SCHEDULED)
    source = models.CharField(max_length=16, choices=CallSource.choices, default=CallSource.LIVE)
    created = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    last_frame_at = models.DateTimeField(null=True, blank=True)
    dion_meeting_url = models.URLField(blank=True)
    # Frames per second the capture page sends (2 by default, at most settings.MIMIC_MAX_FPS).
    capture_fps = models.PositiveSmallIntegerField(default=2)

    objects = CallQuerySet.as_manager()

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["manager", "-created"]), models.Index(fields=["status", "last_frame_at"])]

    def __str__(self) -> str:
        return f"{self.client} · {self.created:%Y-%m-%d %H:%M}"

    def get_absolute_url(self) -> str:
        return reverse("calls:call_detail", args=[self.id])

    @property
    def report_url(self) -> str:
        """Where the call's report is (or will be, once the call has ended)."""
        return reverse("reports:call_report", args=[self.id])

    @property
    def duration_ms(self) -> int | None:
        if self.started_at and self.ended_at:
            return int((self.ended_at - self.started_at).total_seconds() * 1000)
        return None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class Valence(models.TextChoices):
    POSITIVE = "positive", _("Positive")
    NEUTRAL = "neutral", _("Neutral")
    NEGATIVE = "negative", _("Negative")


# The expressions' display names, everywhere they are shown (live page, reports, charts).
EXPRESSION_NAMES = {
    "neutral": _("Neutral"),
    "happy": _("Happy"),
    "surprise": _("Surprise"),
    "sad": _("Sad"),
    "angry": _("Angry"),
    "disgust": _("Disgust"),
    "fear": _("Fear"),
    "contempt": _("Contempt"),
}


@dataclass(frozen=True)
class ScoredFrame:
    """One analysed frame on its way to storage: scores only, never pixels."""

    call_id: str
    seq: int
    offset_ms: int
    face_found: bool
    probs: list[float] | None
    label: str = ""
    valence: str = ""
    flags: list[str] = field(default_factory=list)

    @classmethod
    def from_probs(cls, call_id, seq: int, offset_ms: int, face_found: bool, probs, flags=()) -> ScoredFrame:
        """A frame whose label and valence follow from its probabilities (recordings, demo timelines)."""
        probs = probs if face_found else None
        label = label_of(probs) or ""
        return cls(str(call_id), seq, offset_ms, face_found, probs, label, valence_of(label) if label else "",
                   list(flags))  # fmt: skip

    def as_sample(self, created: datetime, call: Call | None = None) -> EmotionSample:
        """The unsaved row (``call`` saves a lookup when the caller has the instance)."""
        fields = {"call": call} if call is not None else {"call_id": self.call_id}
        return EmotionSample(
            **fields,
            seq=self.seq,
            offset_ms=self.offset_ms,
            face_found=self.face_found,
            probs=self.probs,
            label=self.label,
            valence=self.valence,
            flags=self.flags,
            created=created,
        )


# The columns of a stored sample, in the order the live insert writes them.
_SAMPLE_COLUMNS = ("call_id", "seq", "offset_ms", "face_found", "probs", "label", "valence", "flags", "created")


class EmotionSampleQuerySet(models.QuerySet):
    """The one place samples are written: live frames (``store_live``) and whole timelines (``store_timeline``)."""

    def timeline(self) -> tuple[list[int], list[bool], list[list[float] | None]]:
        rows = list(self.order_by("offset_ms").values_list("offset_ms", "face_found", "probs"))
        return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]

    def store_live(self, scored: Sequence[ScoredFrame]) -> set[tuple[str, int]]:
        """Store each live frame unless it exists, and only while its call is open and consented, in one
        statement for the whole batch. Returns the (call id, seq) pairs inserted.

        Each row is ``SELECT … WHERE EXISTS (active consent FOR SHARE)``, the rows joined by UNION ALL, then
        ``ON CONFLICT DO NOTHING``: on PostgreSQL the consent row is share-locked, so a withdrawal (which locks
        it FOR UPDATE, then deletes the samples) either waits for this write and deletes it, or commits first
        and this inserts nothing for that call. SQLite serialises writers, which gives the same.
        """
        if not scored:
            return set()
        meta = EmotionSample._meta
        table, consent, call = meta.db_table, Consent._meta.db_table, Call._meta.db_table
        fields = [meta.get_field(n if n != "call_id" else "call") for n in _SAMPLE_COLUMNS]
        lock = " FOR SHARE OF c" if connection.vendor == "postgresql" else ""
        open_statuses = ", ".join(["%s"] * len(OPEN_STATUSES))
        row_sql = (
            f"SELECT {', '.join(['%s'] * len(_SAMPLE_COLUMNS))} "
            f"WHERE EXISTS (SELECT 1 FROM {consent} c JOIN {call} k ON k.id = c.call_id "
            f"WHERE c.call_id = %s AND c.withdrawn_at IS NULL AND k.status IN ({open_statuses}){lock})"
        )
        now = timezone.now()
        call_pk = Call._meta.pk
        params: list = []
        for item in scored:
            sample = item.as_sample(now)
            params += [
                f.get_db_prep_save(getattr(sample, n), connection) for n, f in zip(_SAMPLE_COLUMNS, fields, strict=True)
            ]
            params += [call_pk.get_db_prep_value(sample.call_id, connection), *OPEN_STATUSES]
        sql = (
            f"INSERT INTO {table} ({', '.join(_SAMPLE_COLUMNS)}) {' UNION ALL '.join([row_sql] * len(scored))} "
            f"ON CONFLICT (call_id, seq) DO NOTHING RETURNING call_id, seq"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return {(str(uuid.UUID(str(call_id))), seq) for call_id, seq in cursor.fetchall()}

    def store_timeline(self, call: Call, scored: Sequence[ScoredFrame], started: datetime) -> list[EmotionSample]:
        """Store a whole analysed timeline of an ended call (an uploaded recording, demo data); each sample is
        dated ``started`` plus its offset."""
        return self.bulk_create(
            [item.as_sample(started + timedelta(milliseconds=item.offset_ms), call=call) for item in scored],
            batch_size=1000,
        )


class EmotionSample(models.Model):
    """One analysed frame: scores only. The frame itself is never stored."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="samples")
    seq = models.PositiveIntegerField()
    offset_ms = models.PositiveIntegerField()
    face_found = models.BooleanField()
    # Probabilities in the order of engine.labels.EXPRESSIONS; null when no face was found.
    probs = models.JSONField(null=True, blank=True)
    label = models.CharField(max_length=16, blank=True)
    valence = models.CharField(max_length=16, choices=Valence.choices, blank=True)
    flags = models.JSONField(default=list, blank=True)
    created = models.DateTimeField(default=timezone.now)

    objects = EmotionSampleQuerySet.as_manager()

    class Meta:
        ordering = ["call", "seq"]
        constraints = [models.UniqueConstraint(fields=["call", "seq"], name="unique_sample_per_call_seq")]

    def __str__(self) -> str:
        return f"{self.call_id}#{self.seq}"


class ConsentQuerySet(models.QuerySet):
    def active(self) -> ConsentQuerySet:
        return self.filter(withdrawn_at__isnull=True)


class Consent(models.Model):
    """The client's consent to live analysis in one call (152-FZ art. 9; texts in privacy.consent).

    The row keeps which published text was shown (version, language, operator, SHA-256 of the exact
    text), so the record page re-renders the very document the client agreed to.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="consents")
    given_at = models.DateTimeField(default=timezone.now)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    text_version = models.CharField(max_length=16)
    text_sha256 = models.CharField(max_length=64)
    language = models.CharField(max_length=8)
    operator = models.CharField(max_length=300)
    withdrawn_by = models.CharField(max_length=16, blank=True)  # "client" or "manager"

    objects = ConsentQuerySet.as_manager()

    class Meta:
        ordering = ["-given_at"]

    def __str__(self) -> str:
        return f"Consent {self.call_id} {self.given_at:%Y-%m-%d %H:%M}"

    @property
    def is_active(self) -> bool:
        return self.withdrawn_at is None

    def text(self) -> ConsentText:
        return text_for(self.text_version, self.language, self.operator)


class NotificationQuerySet(models.QuerySet):
    def unread(self) -> NotificationQuerySet:
        return self.filter(read_at__isnull=True)


class Notification(models.Model):
    """An in-portal message for one user (e.g. "the report of your call is ready")."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    call = models.ForeignKey(Call, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications")
    message = models.CharField(max_length=300)
    url = models.CharField(max_length=300, blank=True)
    created = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["user", "read_at"])]

    def __str__(self) -> str:
        return self.message


class DeadLetter(models.Model):
    """A task message given up after killing or failing its worker too often (see lib.tasks.ReliableTask).

    Only identifiers are kept: never the task's arguments (a frame task carries the JPEG).
    """

    task_name = models.CharField(max_length=200)
    task_id = models.CharField(max_length=64, unique=True)
    call_id = models.UUIDField(null=True, blank=True, db_index=True)
    seq = models.PositiveIntegerField(null=True, blank=True)
    deliveries = models.PositiveIntegerField()
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.task_name} {self.task_id} ({self.deliveries} deliveries)"
