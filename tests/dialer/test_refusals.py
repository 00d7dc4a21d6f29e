"""What a 400 refusing one call means, in direct and batch mode alike."""

from __future__ import annotations

import pytest

from campaigner.campaign import OutcomeClass
from campaigner.dialer.refusals import refused_call_outcome
from campaigner.retell import BadRequest


@pytest.mark.parametrize(
    ("message", "outcome"),
    [
        ("to_number: +12125550100 is on the internal do-not-call list", OutcomeClass.DNC_REQUEST),
        ("tasks[3].to_number: number marked do_not_call", OutcomeClass.DNC_REQUEST),
        ("Number is on the Do Not Call list", OutcomeClass.DNC_REQUEST),
        ("tasks[0].to_number: '555' is not an E.164 number", OutcomeClass.PERMANENT_FAILURE),
        ("Invalid request format, please check API reference.", OutcomeClass.PERMANENT_FAILURE),
    ],
)
def test_a_do_not_call_refusal_is_a_dnc_request_and_any_other_a_permanent_failure(
    message: str, outcome: OutcomeClass
) -> None:
    assert refused_call_outcome(BadRequest(400, message, path="/create-batch-call")) is outcome
