"""Stored reports get the design's overall satisfaction: (½·neutral + positive) / (½·neutral + positive + negative).

Recomputed from each report's own valence shares (the samples may already be past their retention). The
formula is copied here, not imported, so this migration computes the same whatever the code becomes.
"""

from django.db import migrations


def _design_satisfaction(valence_pct: dict) -> float | None:
    positive = float(valence_pct.get("positive") or 0.0)
    neutral = float(valence_pct.get("neutral") or 0.0)
    negative = float(valence_pct.get("negative") or 0.0)
    satisfied = 0.5 * neutral + positive
    total = satisfied + negative
    return round(100.0 * satisfied / total, 2) if total > 0 else None


def recompute(apps, schema_editor):
    CallReport = apps.get_model("reports", "CallReport")
    changed = []
    for report in CallReport.objects.exclude(satisfaction_pct=None).iterator(chunk_size=500):
        summary = dict(report.summary or {})
        value = _design_satisfaction(summary.get("valence_pct") or {})
        summary["satisfaction_pct"] = value
        report.summary, report.satisfaction_pct = summary, value
        changed.append(report)
        if len(changed) >= 500:
            CallReport.objects.bulk_update(changed, ["summary", "satisfaction_pct"])
            changed = []
    if changed:
        CallReport.objects.bulk_update(changed, ["summary", "satisfaction_pct"])


class Migration(migrations.Migration):
    dependencies = [("reports", "0002_pdf_cache_recordings_feedback")]

    # Backwards keeps the new figure: nothing reads the old one (100 − negative %, still in the shares).
    operations = [migrations.RunPython(recompute, migrations.RunPython.noop)]
