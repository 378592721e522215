"""The supervisor's restart policy: a backoff that doubles, and a limit on exits in a window."""

from baas.core.restarts import RestartPolicy

POLICY = RestartPolicy(first_delay=1.0, max_delay=30.0, max_exits=5, window=300.0)


def test_the_delay_doubles_with_each_exit_in_the_window_until_the_limit():
    exits: list[float] = []
    delays = []
    for now in (0.0, 10.0, 20.0, 30.0, 40.0):
        exits.append(now)
        delays.append(POLICY.delay(exits, now))
    assert delays == [1.0, 2.0, 4.0, 8.0, None]


def test_exits_older_than_the_window_are_forgotten():
    assert POLICY.delay([0.0, 1.0, 2.0, 3.0, 400.0], 400.0) == 1.0
    assert POLICY.recent([0.0, 150.0, 400.0], 400.0) == [150.0, 400.0]


def test_the_delay_stops_doubling_at_the_maximum():
    policy = RestartPolicy(first_delay=1.0, max_delay=30.0, max_exits=100, window=300.0)
    assert policy.delay([float(t) for t in range(10)], 9.0) == 30.0
