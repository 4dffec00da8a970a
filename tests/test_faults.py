"""Faults under load, pass or fail: a smaller run of the scenario bench/faults.py measures.

Two gunicorn workers, a redis-server of the test's own (stopped, then started
again), MariaDB behind a TCP proxy (cut, then restored), then one worker
SIGKILLed, while shoppers send and open streams listen (tests/fault_scenario.py).
"""

import pytest

from . import fault_scenario
from .redis_server import RedisServer

pytestmark = [
    pytest.mark.mariadb,
    pytest.mark.skipif(not RedisServer.available(), reason="redis-server is not installed"),
]


@pytest.fixture(scope="module")
def outcome():
    lines = []  # the scenario's own account (windows, what was not shown where), for failure messages
    rows, attempts, details = fault_scenario.run(
        shoppers=4, streams=2, window_seconds=2.5, interval=0.05, min_messages=200, log=lines.append
    )
    details["log"] = lines
    return rows, attempts, details


def test_every_acknowledged_message_is_stored_exactly_once(outcome):
    rows, attempts, _ = outcome
    total = rows["total"]
    assert total["sent"] >= 200
    # Every message was eventually acknowledged: retries of the same client id got through.
    assert total["acknowledged"] == total["sent"]
    assert total["stored"] == total["acknowledged"]
    assert total["duplicated"] == 0 and total["acked id differs"] == 0
    assert total["inquiries without a message"] == 0
    # Redis down cost nothing: every send answered 2xx the first time.
    assert set(attempts["Redis stopped"]) <= {200, 201}, attempts["Redis stopped"]


def test_the_database_outage_answers_503_and_nothing_answers_500(outcome):
    _, attempts, details = outcome
    during = attempts["database cut"]
    assert during.get(503, 0) > 0 and set(during) <= {503}, (during, details["connection errors"], details["log"])
    for window, answers in attempts.items():
        assert not [status for status in answers if isinstance(status, int) and status >= 500 and status != 503], (
            window,
            answers,
        )


def test_every_acknowledged_message_reaches_every_open_stream_once(outcome):
    rows, _, details = outcome
    total = rows["total"]
    assert total["delivered"] == total["stored"] and total["lost"] == 0, (rows, details["log"])
