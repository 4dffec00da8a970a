"""Two app nodes behind HAProxy (deploy/haproxy.cfg), one killed under open streams.

Shoppers' streams and messages go through HAProxy to node1, the shop's answers to
node2; node1 dies (SIGKILL) mid-run. Every stream reconnects through HAProxy to
node2 and replays: each shopper's stream ends with every message of the
conversation once, in order. Needs Debian's haproxy (skipped without it, a
failure under CI=true), MariaDB and Redis.
"""

import pytest

from . import backends
from .nodes import haproxy_available, run, two_nodes

pytestmark = [pytest.mark.mariadb, pytest.mark.redis]


def test_a_node_dies_and_its_streams_replay_on_the_other_once(tmp_path):
    if not haproxy_available():
        if backends.IN_CI:
            pytest.fail("haproxy is not installed (CI=true: the two-node test must run)")
        pytest.skip("haproxy is not installed")
    backends.require("mariadb")
    backends.require("redis")
    with two_nodes() as (node1, node2, proxy, admin_auth):
        result = run(node1, proxy, admin_auth, shoppers=6, rate=4.0, seconds=9.0)
    assert len(result.sent) >= 30
    assert result.reconnects >= 6, "every stream on node1 had to reconnect"
    assert (result.lost, result.duplicated, result.out_of_order) == (0, 0, 0)
    assert set(result.sent) <= set(result.arrival)
