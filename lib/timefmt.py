"""One clock, one duration: how the portal writes dates, times and durations.

Dates and times
    One date format and one time format per language, defined once in ``webapp/formats/<lang>/formats.py``
    (``FORMAT_MODULE_PATH``): Russian ``15.11.2026 14:05``, English ``15 Nov 2026, 14:05`` (24-hour in both).
    Templates name the format (``|date:"SHORT_DATETIME_FORMAT"``; ``DATETIME_FORMAT`` adds the seconds where they
    count, the consent record); Python code (chart labels) uses :func:`format_local`. Always in the site's zone,
    ``settings.TIME_ZONE`` (the bank's): there is no per-user zone, so the bank's zone is every user's.

CSV exports
    Datetimes in the same zone, as ISO 8601 with the offset (``2026-11-15T14:05:09+03:00``), and the zone's name
    in the column's header: ``date (Europe/Moscow)`` (:func:`csv_datetime`, :func:`csv_zone_column`).

Durations
    One rule for a call's duration (``reports.content.call_duration_ms``), cut to whole seconds here (floor, like
    a stopwatch), shown as ``mm:ss``, or ``h:mm:ss`` from one hour (:func:`format_duration`); a CSV carries the
    same whole seconds as an integer in its ``duration_s`` column (:func:`duration_seconds`).
"""

from __future__ import annotations

from datetime import date, datetime

from django.utils import formats, timezone

NO_VALUE = "—"


def zone_name() -> str:
    """The zone every date and time is shown in (settings.TIME_ZONE)."""
    return timezone.get_current_timezone_name()


def _local(value: date | datetime) -> date | datetime:
    if isinstance(value, datetime) and timezone.is_aware(value):
        return timezone.localtime(value)
    return value


def format_local(value: date | datetime | None, name: str = "SHORT_DATETIME_FORMAT") -> str:
    """``value`` in the site's zone, in the active language's named format (``SHORT_DATE_FORMAT``, …)."""
    if value is None:
        return ""
    return formats.date_format(_local(value), name)


def csv_datetime(value: datetime | None) -> str:
    """ISO 8601 in the site's zone, with its offset, to the second; empty for none."""
    if value is None:
        return ""
    return timezone.localtime(value).isoformat(timespec="seconds")


def csv_zone_column(name: str) -> str:
    """A CSV column of datetimes, named with the zone its values are in: ``date (Europe/Moscow)``."""
    return f"{name} ({zone_name()})"


def duration_seconds(ms: float | None) -> int | None:
    """Whole seconds of a duration in milliseconds (floor); None when unknown."""
    if ms is None:
        return None
    return max(int(ms // 1000), 0)


def format_duration(ms: float | None) -> str:
    """``mm:ss``, or ``h:mm:ss`` from one hour, of the same whole seconds; a dash when unknown."""
    seconds = duration_seconds(ms)
    if seconds is None:
        return NO_VALUE
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes:02d}:{seconds:02d}"
