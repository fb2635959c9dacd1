from __future__ import annotations

import contextlib
import logging
import math
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DataError, IntegrityError, ProgrammingError, connection, models, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from engine.labels import EXPRESSIONS, POOR_VIEW_FLAGS, label_of, valence_of
from lib.querysets import VisibleToUserQuerySet
from privacy.consent import ConsentText, text_for
from privacy.fields import EncryptedTextField

log = logging.getLogger(__name__)

# What a database raises for rows it will not take (not an outage: OperationalError/InterfaceError propagate,
# and the worker drops the batch as "paused"). SQLite's driver raises OverflowError for integers past 64 bits.
_REFUSED_ROWS = (DataError, IntegrityError, ProgrammingError, OverflowError, ValueError, TypeError)


def _pseudonym() -> str:
    return "C-" + secrets.token_hex(3).upper()


class ClientQuerySet(VisibleToUserQuerySet):
    def without_calls_since(self, cutoff: datetime) -> ClientQuerySet:
        """Clients known since before ``cutoff`` with no call since (retention of names and contacts)."""
        return self.filter(created__lt=cutoff).exclude(calls__created__gte=cutoff)


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

    objects = ClientQuerySet.as_manager()

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


# Stored in 32-bit integer columns (PositiveIntegerField) on every database.
_MAX_INT = 2**31 - 1
_LABELS = frozenset(EXPRESSIONS)


def sample_problem(item: ScoredFrame) -> str | None:
    """Why a scored frame cannot be stored (None: it can). Checked before the batch insert, so that one call's
    impossible row never fails the statement that carries other calls' rows."""
    if not (isinstance(item.seq, int) and 0 <= item.seq <= _MAX_INT):
        return "seq out of range"
    if not (isinstance(item.offset_ms, int) and 0 <= item.offset_ms <= _MAX_INT):
        return "offset out of range"
    try:
        uuid.UUID(str(item.call_id))
    except ValueError:
        return "not a call id"
    if item.probs is not None and not (
        isinstance(item.probs, list | tuple)
        and len(item.probs) == len(EXPRESSIONS)
        and all(isinstance(p, int | float) and math.isfinite(p) for p in item.probs)
    ):
        return "probabilities not finite"
    if (item.label and item.label not in _LABELS) or item.valence not in ("", *Valence.values):
        return "unknown label"
    if not all(isinstance(f, str) and len(f) <= 64 and "\x00" not in f for f in item.flags):
        return "bad flags"
    return None


# The columns of a stored sample, in the order the live insert writes them.
_SAMPLE_COLUMNS = ("call_id", "seq", "offset_ms", "face_found", "probs", "label", "valence", "flags", "created")


class EmotionSampleQuerySet(models.QuerySet):
    """The one place samples are written: live frames (``store_live``) and whole timelines (``store_timeline``)."""

    def timeline(self) -> tuple[list[int], list[bool], list[list[float] | None]]:
        rows = list(self.order_by("offset_ms", "seq").values_list("offset_ms", "face_found", "probs"))
        return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]

    def poor_view(self) -> list[bool]:
        """Per sample, in ``timeline`` order: a face was there but too poor to read (engine POOR_VIEW_FLAGS)."""
        flags = self.order_by("offset_ms", "seq").values_list("flags", flat=True)
        return [bool(POOR_VIEW_FLAGS.intersection(f or ())) for f in flags]

    def store_live(
        self, scored: Sequence[ScoredFrame], invalid: list[ScoredFrame] | None = None
    ) -> set[tuple[str, int]]:
        """Store each live frame unless it exists, and only while its call is open and consented, in one
        statement for the whole batch. Returns the (call id, seq) pairs inserted; frames that cannot be stored
        (``sample_problem``, or the database refused their call's rows) are appended to ``invalid``.

        Rows are checked before the insert; should the database still refuse the statement (a value it will
        not take), each call's rows are inserted on their own, so one call's bad rows never cost another call
        its samples.

        Each row is ``SELECT … WHERE EXISTS (active consent FOR SHARE)``, the rows joined by UNION ALL, then
        ``ON CONFLICT DO NOTHING``: on PostgreSQL the consent row is share-locked, so a withdrawal (which locks
        it FOR UPDATE, then deletes the samples) either waits for this write and deletes it, or commits first
        and this inserts nothing for that call. SQLite serialises writers, which gives the same.
        """
        rejected = invalid if invalid is not None else []
        valid = []
        for item in scored:
            problem = sample_problem(item)
            if problem is None:
                valid.append(item)
            else:
                log.warning("frame %s#%s not stored: %s", item.call_id, item.seq, problem)
                rejected.append(item)
        if not valid:
            return set()
        try:
            return self._insert_live(valid)
        except _REFUSED_ROWS as exc:
            log.warning("batch insert of %s frames refused (%s): inserting per call", len(valid), type(exc).__name__)
        stored: set[tuple[str, int]] = set()
        by_call: dict[str, list[ScoredFrame]] = {}
        for item in valid:
            by_call.setdefault(item.call_id, []).append(item)
        for call_id, items in by_call.items():
            try:
                stored |= self._insert_live(items)
            except _REFUSED_ROWS as exc:
                log.warning("%s frames of call %s not stored: %s", len(items), call_id, type(exc).__name__)
                rejected.extend(items)
        return stored

    def _insert_live(self, scored: Sequence[ScoredFrame]) -> set[tuple[str, int]]:
        """The one INSERT of ``store_live``; in a savepoint when inside a transaction, so that a refused
        statement leaves the transaction usable for the per-call retry."""
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
        savepoint = transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext()
        with savepoint, connection.cursor() as cursor:
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

    def for_device(self, device_hash: str) -> ConsentQuerySet:
        """Consents this browser gave (``device_hash`` of its cookie; "" for none), or given without a browser."""
        return self.filter(device_hash__in={device_hash, ""})


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
    # SHA-256 of the device key in the consenting browser's cookie (calls.devices): only that browser's socket
    # may send frames under this consent. Blank: recorded without a browser (tests, benchmarks, older rows).
    device_hash = models.CharField(max_length=64, blank=True, db_index=True)

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


class ShowingSource(models.TextChoices):
    MANAGER = "manager", _("Shown by the manager")
    LINK = "link", _("Opened by the client")


class ShowingQuerySet(models.QuerySet):
    """The one writer of showings: the client started or stopped looking at something during a call."""

    def open(self) -> ShowingQuerySet:
        return self.filter(ended_at__isnull=True)

    def start(self, call: Call, subject: uuid.UUID, label: str, source: str, now=None) -> Showing:
        """A showing of ``subject`` begins, unless one is already open (a reload or a second tab is the same look)."""
        current = self.open().filter(call=call, subject=subject).first()
        if current is not None:
            return current
        return self.create(
            call=call, subject=subject, label=label[:160], source=source, started_at=now or timezone.now()
        )

    def stop(self, call_id, subject: uuid.UUID | None = None, now=None) -> int:
        """Close the open showings of a call (of one subject, or all); the number closed."""
        rows = self.open().filter(call_id=call_id)
        if subject is not None:
            rows = rows.filter(subject=subject)
        return rows.update(ended_at=now or timezone.now())


class Showing(models.Model):
    """A stretch of a call while the client had something on screen (an investment illustration).

    Only timestamps, and which thing it was by id: the calls app knows nothing of what it is (the app that shows
    it writes through ShowingQuerySet and names it in ``label``, e.g. its products), and no personal data.
    """

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="showings")
    subject = models.UUIDField(db_index=True)  # e.g. an illustrations.Illustration's id
    label = models.CharField(max_length=160)
    source = models.CharField(max_length=16, choices=ShowingSource.choices)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    objects = ShowingQuerySet.as_manager()

    class Meta:
        ordering = ["call", "started_at"]

    def __str__(self) -> str:
        return f"{self.label} in {self.call_id}"

    def interval_ms(self, call: Call | None = None, now=None) -> tuple[int, int] | None:
        """The showing on the call's timeline (ms from the call's start), clipped to the call; a showing still
        open ends with the call (or now); None when it lies wholly outside the call."""
        call = call or self.call
        if call.started_at is None:
            return None
        end = self.ended_at or call.ended_at or now or timezone.now()
        if call.ended_at is not None:
            end = min(end, call.ended_at)
        start_ms = max(0, int((self.started_at - call.started_at).total_seconds() * 1000))
        end_ms = int((end - call.started_at).total_seconds() * 1000)
        return (start_ms, end_ms) if end_ms > start_ms else None
