"""Reports benchmarks: aggregation of a 60-minute call, its PDF, and the dashboard over 10,000 calls.

Runs against a separate PostgreSQL database (default ``mimic_bench``, created and migrated if missing;
seeded once with bulk_create). Prints a table of medians and ratios vs a baseline measured in the same
run; with --json the last line is one JSON object.

    .venv/bin/python bench/reports.py [--database-url postgres://postgres@127.0.0.1:5432/mimic_bench] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import time
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BUDGET_MS = {"summarize": 200.0, "pdf": 3000.0, "dashboard": 300.0}


def _median_ms(fn, repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def _ensure_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    name = url.rsplit("/", 1)[-1].split("?")[0]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _seed(n_calls: int) -> tuple:
    """Ten managers of one supervisor, 100 clients, ``n_calls`` calls with reports; one 60-min call with samples."""
    from datetime import timedelta

    import numpy as np
    from django.utils import timezone

    from accounts.models import Role, User
    from calls.models import Call, CallStatus, Client
    from demo.timelines import synthetic_timeline
    from reports.models import CallReport
    from reports.recordings import store_ended_call, timeline_rows

    sup, _ = User.objects.get_or_create(username="bench_sup", defaults={"role": Role.SUPERVISOR})
    managers = [
        User.objects.get_or_create(
            username=f"bench_m{i}", defaults={"role": Role.MANAGER, "supervisor": sup, "first_name": f"Менеджер {i}"}
        )[0]
        for i in range(10)
    ]
    existing = CallReport.objects.filter(call__manager__supervisor=sup).count()
    rng = np.random.default_rng(1)
    if existing < n_calls:
        clients = list(Client.objects.filter(manager__in=managers))
        if not clients:
            clients = Client.objects.bulk_create(
                Client(display_name=f"Клиент {i}", manager=managers[i % 10], pseudonym=f"B-{i:05d}") for i in range(100)
            )
        now = timezone.now()
        todo = n_calls - existing
        for start in range(0, todo, 2000):
            batch = []
            for k in range(start, min(todo, start + 2000)):
                client = clients[k % len(clients)]
                created = now - timedelta(minutes=int(rng.integers(60, 365 * 24 * 60)))
                batch.append(
                    Call(
                        manager_id=client.manager_id,
                        client=client,
                        status=CallStatus.ENDED,
                        created=created,
                        started_at=created,
                        ended_at=created + timedelta(minutes=int(rng.integers(3, 40))),
                    )
                )
            Call.objects.bulk_create(batch)
            reports = []
            for call in batch:
                neg = float(rng.uniform(0, 40))
                episodes = [{"start_ms": 0, "end_ms": 1500}] * int(rng.integers(0, 3))
                reports.append(
                    CallReport(
                        call=call,
                        summary={"satisfaction_pct": 100 - neg, "valence_pct": {"negative": neg}},
                        satisfaction_pct=100 - neg,
                        negative_pct=neg,
                        face_visible_pct=float(rng.uniform(70, 100)),
                        negative_episodes=len(episodes),
                    )
                )
            CallReport.objects.bulk_create(reports)
    long_call = Call.objects.filter(manager=managers[0], samples__isnull=False).distinct().first()
    if long_call is None:
        t_ms, found, probs = synthetic_timeline(rng, 60.0, temper=0.5)
        created = timezone.now() - timedelta(days=1)
        client = Client.objects.filter(manager=managers[0]).first()
        long_call = store_ended_call(managers[0], client, created, t_ms[-1] + 500, timeline_rows(t_ms, found, probs))
    return sup, long_call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/mimic_bench")
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    os.environ["DATABASE_URL"] = args.database_url
    # A real database needs real secrets (webapp/settings.py); the bench's own database gets throwaway ones.
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("FIELD_ENCRYPTION_KEYS", Fernet.generate_key().decode())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    _ensure_database(args.database_url)
    import django

    django.setup()
    import logging

    logging.disable(logging.WARNING)
    from django.core.management import call_command
    from django.template.loader import render_to_string
    from django.test import Client as HttpClient
    from django.utils import translation

    from calls.models import EmotionSample
    from engine.analytics import summarize
    from lib.pdf import render_pdf
    from reports.content import build_report_context
    from reports.models import CallReport

    try:
        call_command("migrate", verbosity=0)
    except Exception as exc:  # noqa: BLE001
        # The audit-log trigger migration is irrelevant to these timings; fake it if it cannot run here.
        print(
            f"note: migrate failed ({type(exc).__name__}); faking privacy 0003 for the bench database", file=sys.stderr
        )
        call_command("migrate", "privacy", "0003", fake=True, verbosity=0)
        call_command("migrate", verbosity=0)
    sup, long_call = _seed(args.calls)
    from django.db import connection

    with connection.cursor() as cursor:  # fresh statistics, as autovacuum would keep them in production
        cursor.execute("ANALYZE")
    n_team = CallReport.objects.filter(call__manager__supervisor=sup).count()
    t_ms, found, probs = EmotionSample.objects.filter(call=long_call).timeline()
    report = CallReport.objects.select_related("call", "call__client", "call__manager").get(call=long_call)

    rows = []

    def load() -> None:
        EmotionSample.objects.filter(call=long_call).timeline()

    load_ms = _median_ms(load, args.repeat)
    sum_ms = _median_ms(lambda: summarize(t_ms, found, probs), args.repeat)
    rows.append(("summarize 60 min (7,200 samples)", sum_ms, "load samples from DB", load_ms, "summarize"))

    def pdf() -> bytes:
        with translation.override("ru"):
            html = render_to_string("reports/call_report_pdf.html", build_report_context(report, "pdf"))
        return render_pdf(html)

    trivial_ms = _median_ms(lambda: render_pdf("<p>Привет</p>"), 3)
    pdf_ms = _median_ms(pdf, max(3, args.repeat // 3))
    rows.append(("PDF of the 60-min call (context+HTML+WeasyPrint)", pdf_ms, "one-line PDF", trivial_ms, "pdf"))

    from tests.support.twofactor import verify_session

    http = HttpClient()
    http.force_login(sup)
    verify_session(http, sup)  # supervisors always need their second factor
    translation.activate("ru")

    def get(url: str):
        def run() -> None:
            response = http.get(url)
            assert response.status_code == 200, response.status_code

        return run

    base_ms = _median_ms(get("/accounts/login/"), args.repeat)
    for label, url in (
        ("dashboard, no filters", "/reports/dashboard/"),
        ("dashboard, filtered + sorted", "/reports/dashboard/?below=70&negative=yes&sort=satisfaction"),
        ("dashboard, page 200", "/reports/dashboard/?page=200"),
    ):
        rows.append(
            (f"{label} ({n_team:,} calls)", _median_ms(get(url), args.repeat), "login page", base_ms, "dashboard")
        )

    print(f"{'benchmark':58} {'median ms':>10} {'budget':>8} {'baseline':>22} {'base ms':>8} {'ratio':>6}")
    for name, ms, base_name, base, kind in rows:
        print(f"{name:58} {ms:10.1f} {BUDGET_MS[kind]:8.0f} {base_name:>22} {base:8.1f} {ms / base:6.1f}")
    ok = all(ms <= BUDGET_MS[kind] for _, ms, _, _, kind in rows)
    print("all within budget" if ok else "OVER BUDGET")
    if args.json:
        print(
            json.dumps(
                {
                    "results": [
                        {
                            "name": n,
                            "median_ms": round(m, 2),
                            "budget_ms": BUDGET_MS[k],
                            "baseline": bn,
                            "baseline_ms": round(b, 2),
                        }
                        for n, m, bn, b, k in rows
                    ],
                    "within_budget": ok,
                }
            )
        )


if __name__ == "__main__":
    main()
