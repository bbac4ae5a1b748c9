"""`python3 dev.py test` runs the suite in parallel (pytest-xdist) unless the caller chose otherwise."""

from __future__ import annotations

import pytest

from dev import xdist_args as workers


def test_one_worker_per_core_and_two_at_least() -> None:
    n, dist = workers([], {})[1], workers([], {})[3]
    assert int(n) >= 2 and dist == "worksteal"
    assert workers(["tests/core", "-q"], {})[:2] == ["-n", n]


@pytest.mark.parametrize("args", [["-n", "3"], ["-n3"], ["--numprocesses=4"], ["--dist", "load"], ["-p", "no:xdist"],
                                  ["--pdb"], ["tests/core", "--trace"]])
def test_the_callers_choice_wins(args: list[str]) -> None:
    assert workers(args, {}) == []


def test_the_environment_picks_the_count_or_turns_it_off() -> None:
    assert workers([], {"BILLINGOS_TEST_WORKERS": "3"}) == ["-n", "3", "--dist", "worksteal"]
    assert workers([], {"BILLINGOS_TEST_WORKERS": "0"}) == []
    with pytest.raises(SystemExit, match="must be a number"):
        workers([], {"BILLINGOS_TEST_WORKERS": "many"})
