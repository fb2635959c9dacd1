"""Cross-call micro-batching of frames on their way from daphne to the Celery workers.

Every client socket of a daphne process hands its frames to this process's ``FrameBatcher``, which
publishes them as one ``analyze_frames`` task per batch: a batch is sent when it holds
MIMIC_FRAME_BATCH_MAX frames or when its first frame has waited MIMIC_FRAME_BATCH_MS, whichever comes
first (0 ms: every frame is its own batch). Per message, publishing, consuming, acknowledging, the
delivery counter, the database round trip and the classifier run cost the same whether a message holds
one frame or ten; at 100 calls x 2 fps that fixed cost per frame was larger than the analysis itself
(docs/benchmarks.md, "Live load").

The frame's socket learns whether its batch was published (ack) or not (an outage: the frame is
dropped and counted as "paused"). Plain asyncio; no Django models.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from collections.abc import Callable

from asgiref.sync import sync_to_async


class FrameBatcher:
    def __init__(self, publish: Callable[[list], None], max_frames: int, max_wait_ms: float) -> None:
        """``publish(items)`` is blocking (a broker publish, or in embedded mode the whole analysis): it runs
        on a worker thread, never on the event loop."""
        self.publish = publish
        self.max_frames = max(1, max_frames)
        self.max_wait = max(0.0, max_wait_ms) / 1000
        self.pending: list[tuple[object, asyncio.Future]] = []
        self.timer: asyncio.TimerHandle | None = None
        self.in_flight: set[asyncio.Task] = set()
        self.recent_sizes: deque[int] = deque(maxlen=50)

    async def submit(self, item: object) -> None:
        """Queue one frame; returns once its batch is published, or raises the publish error."""
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        self.pending.append((item, done))
        if len(self.pending) >= self.max_frames or self.max_wait == 0:
            self.flush()
        elif self.timer is None:
            self.timer = loop.call_later(self.max_wait, self.flush)
        await done

    def flush(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if not self.pending:
            return
        batch, self.pending = self.pending, []
        self.recent_sizes.append(len(batch))
        task = asyncio.get_running_loop().create_task(self._publish(batch))
        self.in_flight.add(task)  # a reference, so the task is not collected mid-flight
        task.add_done_callback(self.in_flight.discard)

    async def _publish(self, batch: list[tuple[object, asyncio.Future]]) -> None:
        try:
            await sync_to_async(self.publish, thread_sensitive=False)([item for item, _ in batch])
        except Exception as exc:  # noqa: BLE001 - handed to every waiting socket, which counts the drop
            for _, done in batch:
                if not done.done():
                    done.set_exception(exc)
            return
        for _, done in batch:
            if not done.done():
                done.set_result(None)

    @property
    def mean_batch_size(self) -> float:
        """Frames per published batch lately (1 before the first): turns a queue length into frames."""
        return sum(self.recent_sizes) / len(self.recent_sizes) if self.recent_sizes else 1.0


_batchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, FrameBatcher] = weakref.WeakKeyDictionary()


def get_batcher() -> FrameBatcher:
    """This event loop's batcher (daphne runs one loop per process; tests may run several in turn)."""
    from django.conf import settings

    from calls.tasks import enqueue_frames

    loop = asyncio.get_running_loop()
    batcher = _batchers.get(loop)
    if batcher is None:
        batcher = FrameBatcher(enqueue_frames, settings.MIMIC_FRAME_BATCH_MAX, settings.MIMIC_FRAME_BATCH_MS)
        _batchers[loop] = batcher
    return batcher
