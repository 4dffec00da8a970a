"""The circuit breaker in front of the database pool (chat/circuit_breaker.py).

While MariaDB hangs, the first attempt waits for its timeout and opens the
breaker; every later attempt fails at once without touching the network, until
one trial a second later finds out whether the database is back.
"""

import threading
import time
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

import config
from chat.circuit_breaker import CircuitBreaker, DatabaseUnreachable, GuardedQueuePool, breaker_for, engine_options
from chat.errors import is_outage

from . import backends
from .tcp_proxy import TCPProxy


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_one_failure_opens_it_and_a_second_later_one_trial_goes_through():
    clock = Clock()
    breaker = CircuitBreaker(reset_seconds=1.0, clock=clock)
    breaker.admit()  # closed: anyone
    breaker.failed(TimeoutError())
    assert breaker.state == "open"
    with pytest.raises(DatabaseUnreachable) as refused:
        breaker.admit()
    assert is_outage(refused.value)  # chat/errors.py answers it with the 503
    with pytest.raises(DatabaseUnreachable):
        breaker.allow_connect()  # the pool's reconnect after a failed pre-ping
    clock.now += 1.01
    breaker.admit()  # the trial
    assert breaker.state == "half-open"
    breaker.allow_connect()  # the trial may open a new connection
    with pytest.raises(DatabaseUnreachable):
        breaker.admit()  # everyone else still fails at once
    breaker.failed(TimeoutError())  # the trial failed: open for another second
    with pytest.raises(DatabaseUnreachable):
        breaker.admit()
    clock.now += 1.01
    breaker.admit()
    breaker.succeeded()
    assert breaker.state == "closed"
    breaker.admit()
    breaker.admit()


def test_a_trial_that_ends_without_a_verdict_lets_the_next_caller_try():
    clock = Clock()
    breaker = CircuitBreaker(reset_seconds=1.0, clock=clock)
    breaker.failed()
    clock.now += 1.5
    breaker.admit()
    breaker.release()  # say its greenlet was killed
    breaker.admit()  # the next one is the trial now
    with pytest.raises(DatabaseUnreachable):
        breaker.admit()


def test_sqlite_gets_no_breaker():
    assert "poolclass" not in engine_options("sqlite:///x.sqlite", {})
    assert engine_options("mysql+pymysql://root@127.0.0.1/x", {})["poolclass"] is GuardedQueuePool


@pytest.fixture
def hung_engine():
    """An engine with the app's MySQL options (1 s timeouts) to MariaDB through a proxy of our own."""
    backends.require("mariadb")
    parts = urlsplit(backends.MYSQL_URL)
    with TCPProxy(parts.hostname, parts.port or 3306) as proxy:
        url = backends.MYSQL_URL.replace(parts.netloc, f"{parts.username or 'root'}@127.0.0.1:{proxy.port}")
        options = config.engine_options(url)
        options["connect_args"].update(connect_timeout=1, read_timeout=1, write_timeout=1)
        engine = sa.create_engine(url, **engine_options(url, options))
        try:
            yield engine, proxy
        finally:
            proxy.thaw()
            engine.dispose()


def _select_one(engine):
    """(the outcome, seconds it took)."""
    started = time.monotonic()
    try:
        with engine.connect() as connection:
            outcome = connection.scalar(sa.text("SELECT 1"))
    except Exception as error:  # noqa: BLE001 - the outcome is what we look at
        outcome = error
    return outcome, time.monotonic() - started


@pytest.mark.mariadb
def test_a_hung_database_costs_one_timeout_then_fails_at_once_until_a_trial_finds_it_back(hung_engine):
    engine, proxy = hung_engine
    assert _select_one(engine)[0] == 1  # a pooled connection
    breaker = breaker_for(engine.dialect)
    proxy.freeze()

    # The pooled connection's pre-ping times out (1 s); the pool's reconnect is refused at once.
    outcome, seconds = _select_one(engine)
    assert is_outage(outcome) and 0.9 < seconds < 1.8, (outcome, seconds)
    assert breaker.state == "open"
    # Open: no connection attempt at all (the proxy sees none), each refusal immediate.
    accepted = proxy.accepted
    for _ in range(5):
        outcome, seconds = _select_one(engine)
        assert isinstance(outcome, DatabaseUnreachable) and seconds < 0.1
    assert proxy.accepted == accepted

    # A second later, of four concurrent callers one tries (and waits its timeout), three fail at once.
    time.sleep(1.05)
    results = []
    callers = [threading.Thread(target=lambda: results.append(_select_one(engine))) for _ in range(4)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    waited = [seconds for outcome, seconds in results if not isinstance(outcome, DatabaseUnreachable)]
    assert len(waited) == 1 and len(results) == 4, results
    assert proxy.accepted <= accepted + 1  # the trial: one new connection at most

    proxy.thaw()
    time.sleep(1.05)
    assert _select_one(engine)[0] == 1  # the trial succeeds and closes the breaker
    assert breaker.state == "closed"
    assert [_select_one(engine)[0] for _ in range(3)] == [1, 1, 1]


@pytest.mark.mariadb
def test_a_connection_lost_while_the_database_is_fine_is_replaced_without_opening(hung_engine):
    """A reset (a restart, a cut between requests) is a stale connection, not an outage."""
    engine, proxy = hung_engine
    assert _select_one(engine)[0] == 1
    proxy.cut()
    proxy.restore()
    assert _select_one(engine)[0] == 1
    assert breaker_for(engine.dialect).state == "closed"
