"""The client's reaction while looking at an illustration, over the calls in which it was shown (pilot page).

Showings are calls.Showing rows naming the illustration by id; each call's timeline is read once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from calls.models import EmotionSample, Showing
from engine.exposure import combine, reaction


def reactions(illustration_ids: Iterable) -> tuple[dict, dict]:
    """Per illustration id, and over all of them: the client's reaction while it was shown (``during``) and in
    the rest of those calls (``rest``), with how many calls and seconds it was shown in."""
    ids = set(illustration_ids)
    by_call: dict = defaultdict(list)
    for showing in Showing.objects.filter(subject__in=ids).select_related("call").order_by("started_at"):
        by_call[showing.call_id].append(showing)
    parts: dict = defaultdict(lambda: {"during": [], "rest": [], "calls": 0, "shown_ms": 0})
    overall: dict = {"during": [], "rest": [], "calls": 0, "shown_ms": 0}
    for call_showings in by_call.values():
        call = call_showings[0].call
        intervals: dict = defaultdict(list)
        for showing in call_showings:
            interval = showing.interval_ms(call)
            if interval is not None:
                intervals[showing.subject].append(interval)
        if not intervals:
            continue
        t_ms, found, probs = EmotionSample.objects.filter(call=call).timeline()
        every = [iv for ivs in intervals.values() for iv in ivs]
        for subject, ivs in intervals.items():
            result = reaction(t_ms, found, probs, ivs, every)
            target = parts[subject]
            target["during"].append(result["during"])
            target["rest"].append(result["rest"])
            target["calls"] += 1
            target["shown_ms"] += result["shown_ms"]
        whole = reaction(t_ms, found, probs, every)
        overall["during"].append(whole["during"])
        overall["rest"].append(whole["rest"])
        overall["calls"] += 1
        overall["shown_ms"] += whole["shown_ms"]

    def finish(acc: dict) -> dict:
        return {
            "calls": acc["calls"],
            "shown_s": round(acc["shown_ms"] / 1000),
            "during": combine(acc["during"]),
            "rest": combine(acc["rest"]),
        }

    return {subject: finish(acc) for subject, acc in parts.items()}, finish(overall)
