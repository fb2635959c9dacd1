import asyncio

from calls import health as health_module
from calls.health import ServiceHealth


async def test_the_probe_loop_stops_when_cancelled_even_as_the_database_answers(settings, monkeypatch) -> None:
    settings.MIMIC_HEALTH_PROBE_MS = 10
    health = ServiceHealth()
    cancels = []

    async def database_answers_as_the_loop_is_cancelled() -> bool:
        if not cancels:
            cancels.append(health.task.cancel())
        return True

    monkeypatch.setattr(health_module, "_db_ok_async", database_answers_as_the_loop_is_cancelled)

    async def listener(down: frozenset[str]) -> None:
        pass

    health.subscribe(listener)
    task = health.task
    try:
        done, _ = await asyncio.wait({task}, timeout=2)
    finally:
        health.unsubscribe(listener)  # a loop that swallowed the cancel ends at its next turn, not never
    assert cancels == [True]
    assert task in done and task.cancelled()
