"""One ticker wakes every idle stream for its heartbeat (chat/live/beats.py)."""

import threading
import time

from chat.live import beats
from chat.live.broker import Subscription


def test_each_stream_beats_when_due_never_before_and_an_event_comes_first():
    ticker = beats.every(0.4)
    start = time.monotonic()
    subs = [Subscription([f"c{i}"]) for i in range(30)]
    woke = {}

    def wait(i, sub):
        first = sub.next()
        woke[i] = (first, time.monotonic())

    threads = [threading.Thread(target=wait, args=(i, sub)) for i, sub in enumerate(subs)]
    for thread in threads:
        thread.start()
    due_at = [start + 0.05 + 0.3 * i / len(subs) for i in range(len(subs))]
    for sub, at in zip(subs, due_at):
        ticker.due(sub, at)
    subs[0].deliver({"type": "message", "id": 1})  # an event before the beat is not a beat
    for thread in threads:
        thread.join(5)
    assert woke[0][0] == {"type": "message", "id": 1}
    for i in range(1, len(subs)):
        event, at = woke[i]
        assert event is None
        assert at >= due_at[i]  # never early
        assert at - due_at[i] < ticker.tick + 0.5  # a tick late at most, with room for a busy machine
    # The first one's beat is still due: its next wait returns at once with None.
    assert subs[0].next() is None


def test_a_stream_that_registers_again_beats_again():
    ticker = beats.every(0.1)
    sub = Subscription(["again"])
    for _ in range(3):
        ticker.due(sub, time.monotonic() + 0.1)
        assert sub.next() is None


def test_a_workers_live_figures_are_not_served_unless_a_bench_turns_them_on(client):
    """/live/stats (stream counts, collector and loop figures) is for tests and benchmarks."""
    assert client.get("/live/stats").status_code == 404


def test_a_failed_wake_does_not_stop_the_ticker(caplog):
    class Broken(Subscription):
        __slots__ = ()

        def beat(self):
            raise RuntimeError("broken")

    ticker = beats.every(0.15)
    ticker.due(Broken(["broken"]), time.monotonic() + 0.01)
    time.sleep(0.1)
    sub = Subscription(["fine"])
    ticker.due(sub, time.monotonic() + 0.15)
    done = threading.Event()
    threading.Thread(target=lambda: (sub.next(), done.set()), daemon=True).start()
    assert done.wait(5)
    assert "a turn failed" in caplog.text
