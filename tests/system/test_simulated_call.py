"""The simulated page (tests/support/simulated_call.py) against a tiny in-process server: stream.js's protocol."""

from __future__ import annotations

import json

from websockets.asyncio.server import serve

from calls.protocol import unpack_header
from tests.support.simulated_call import SimulatedCall

CALL = {"call_id": "c", "token": "t", "cookie": "sessionid=x"}


async def test_a_skipped_frame_takes_no_seq_and_a_reconnect_resends_the_unanswered_oldest_first() -> None:
    clients: list[tuple] = []  # per client connection: (the server's end, what it got in order: "hello" or a seq)
    managers: list = []

    async def handler(ws) -> None:
        if ws.request.path.endswith("/live/"):
            managers.append(ws)
            await ws.send(json.dumps({"t": "hello"}))
            await ws.wait_closed()
            return
        got: list = []
        clients.append((ws, got))
        await ws.send(json.dumps({"t": "hello", "next_seq": 5}))  # a reloaded page goes on after what is stored
        async for raw in ws:
            if isinstance(raw, str):
                got.append("hello" if isinstance(json.loads(raw).get("now"), int) else raw)
                continue
            got.append(unpack_header(raw)[0])
            if len(clients) == 2:  # the first connection answers nothing
                await ws.send(json.dumps({"t": "ack", "seq": got[-1]}))

    settled: list[tuple] = []
    async with serve(handler, "127.0.0.1", 0) as server:
        base = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        sim = SimulatedCall(base, CALL, fps=20, frames=[b"\xff\xd8\xff"], max_unacked=3,
                            on_settle=lambda *a: settled.append(a))  # fmt: skip
        async with sim:
            await sim.wait_for(lambda: len(clients[0][1]) >= 4 and sim.skipped["backpressure"] >= 4, 5)
            # Three unanswered: the later ticks took no frame and no seq.
            assert clients[0][1] == ["hello", 5, 6, 7] and sim.next_seq == 8 and sorted(sim.unacked) == [5, 6, 7]
            await clients[0][0].close(1011)  # not a final code: the page reconnects
            await sim.wait_for(lambda: len(clients) == 2 and len(clients[1][1]) >= 6, 10)
            await managers[-1].send(json.dumps({"t": "score", "seq": 6}))
            await managers[-1].send(json.dumps({"t": "drop", "seq": 6, "reason": "duplicate", "stage": "worker"}))
            await sim.wait_for(lambda: sim.worker_drops == {6: "duplicate"}, 5)
    # Hello first, then the unanswered frames again under their seqs, oldest first; then the counter goes on.
    assert clients[1][1][:6] == ["hello", 5, 6, 7, 8, 9]
    assert sim.reconnects == 1 and sim.resent == 3 and sim.scores == [6]
    skips = [s for s in settled if s[0] is None]
    assert skips and all(s[1:] == ("client_backpressure", None) for s in skips)
    assert len(skips) == sim.skipped["backpressure"] and sim.ticks == len(sim.captured) + len(skips)
    (score,) = [s for s in settled if s[0] == 6]  # settled once: by its score, not by the later drop
    assert score[1] is None and 0 < score[2] < 5000
