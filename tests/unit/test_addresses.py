"""The address plan and the run's slot: one block per region, a slot per run and per xdist worker."""
from __future__ import annotations

import pytest

from pytest_drtest.errors import DrConfigError
from pytest_drtest.gateway.addresses import AddressPlan, claim_slot, run_slot


def test_each_region_has_its_block_and_each_endpoint_its_stable_address() -> None:
    plan = AddressPlan(("us-east-1", "us-west-2"), slot=3)
    assert (plan.gateway("us-east-1"), plan.gateway("us-west-2")) == ("127.3.1.1", "127.3.2.1")
    assert (plan.global_gateway, plan.dns) == ("127.3.250.1", "127.3.250.53")
    first = plan.allocate("us-east-1", "db.example")
    assert plan.allocate("us-east-1", "DB.example.") == first == "127.3.1.10"
    assert plan.allocate("us-east-1", "other") == "127.3.1.11"
    assert plan.region_of("127.3.2.40") == "us-west-2" and plan.region_of("127.4.2.40") is None


def test_the_slot_adds_the_xdist_worker_number() -> None:
    assert run_slot({}) == 0
    assert run_slot({"PYTEST_XDIST_WORKER": "gw2"}) == 2
    assert run_slot({"DRTEST_ADDRESS_SLOT": "10", "PYTEST_XDIST_WORKER": "gw1"}) == 11
    with pytest.raises(DrConfigError, match="DRTEST_ADDRESS_SLOT: expected an integer 0-255, got 'x'"):
        run_slot({"DRTEST_ADDRESS_SLOT": "x"})


def test_two_runs_never_share_a_slot_and_a_given_slot_that_is_taken_is_an_error() -> None:
    slot, held = claim_slot({"DRTEST_ADDRESS_SLOT": "200"})
    try:
        assert slot == 200
        with pytest.raises(DrConfigError, match="another run holds 127.200.250.250:9"):
            claim_slot({"DRTEST_ADDRESS_SLOT": "200"})
        other, also = claim_slot({"DRTEST_ADDRESS_SLOT": ""} | {"PYTEST_XDIST_WORKER": "gw200"})
        assert other == 201  # the next free one
        also.close()
    finally:
        held.close()
