"""The status rules, as a table: which event may overwrite which row."""

import pytest

from job_status.statuses import State, Status, Transition, may_replace, parse_status, parse_statuses

Q, S, OK, KO, CA = (
    Status.QUEUED,
    Status.STARTED,
    Status.SUCCEEDED,
    Status.FAILED,
    Status.CANCELLED,
)


@pytest.mark.parametrize(
    ("current", "incoming", "expected"),
    [
        # No row yet: every event creates it.
        (None, Transition(Q, 1), True),
        (None, Transition(S, 1), True),
        (None, Transition(OK, 1), True),
        # Within one attempt a job only moves forward.
        (State(Q, 1), Transition(S, 1), True),
        (State(Q, 1), Transition(OK, 1), True),
        (State(Q, 1), Transition(KO, 1), True),
        (State(Q, 1), Transition(CA, 1), True),
        (State(S, 1), Transition(OK, 1), True),
        (State(S, 1), Transition(KO, 1), True),
        (State(S, 1), Transition(CA, 1), True),
        (State(S, 1), Transition(Q, 1), False),  # the publisher's late insert
        (State(Q, 1), Transition(Q, 1), False),  # a duplicate changes nothing
        (State(S, 1), Transition(S, 1), False),
        # A final status is never replaced by another, nor reopened by its own attempt.
        (State(OK, 1), Transition(S, 1), False),
        (State(OK, 1), Transition(Q, 1), False),
        (State(KO, 1), Transition(KO, 1), False),  # hard time limit reported twice
        (State(KO, 1), Transition(OK, 1), False),
        (State(CA, 1), Transition(S, 1), False),  # revoked, then a late prerun
        (State(CA, 1), Transition(OK, 1), False),
        (State(OK, 1), Transition(CA, 1), False),
        # A later attempt reopens the row; an earlier one never touches it.
        (State(S, 1), Transition(Q, 2), True),  # a retry waits in the queue
        (State(Q, 2), Transition(S, 2), True),
        (State(KO, 2), Transition(S, 3), True),
        (State(OK, 3), Transition(Q, 3), False),  # a late "will retry" for attempt 2
        (State(KO, 3), Transition(Q, 3), False),  # ...never overwrites the final failure
        (State(S, 3), Transition(OK, 2), False),
        (State(Q, 2), Transition(S, 1), False),
        # A failure presumed from a lost worker gives way to what really happened.
        (State(KO, 1, provisional=True), Transition(S, 1), True),
        (State(KO, 1, provisional=True), Transition(OK, 1), True),
        (State(KO, 1, provisional=True), Transition(Q, 1), False),
        # So does a cancel the reaper presumed.
        (State(CA, 1, provisional=True), Transition(OK, 1), True),
        (State(CA, 1, provisional=True), Transition(KO, 1), True),
        (State(CA, 1, provisional=True), Transition(Q, 1), False),
        # An event of unknown attempt applies to the row's current attempt.
        (State(S, 3), Transition(KO, None), True),
        (State(OK, 3), Transition(KO, None), False),
        (State(Q, 1), Transition(CA, None), True),
    ],
)
def test_may_replace(current, incoming, expected):
    assert may_replace(current, incoming) is expected


def test_parse_status_accepts_values_and_members():
    assert parse_status("failed") is Status.FAILED
    assert parse_status(Status.QUEUED) is Status.QUEUED


def test_parse_status_rejects_unknown_with_choices():
    with pytest.raises(
        ValueError, match=r"'done'.*'queued', 'started', 'succeeded', 'failed', 'cancelled'"
    ):
        parse_status("done")


def test_parse_statuses_accepts_one_or_several():
    assert parse_statuses("queued") == [Status.QUEUED]
    assert parse_statuses(["queued", Status.STARTED]) == [Status.QUEUED, Status.STARTED]


def test_parse_statuses_rejects_empty():
    with pytest.raises(ValueError, match="at least one"):
        parse_statuses([])
