"""Units are plain data: a thread pool and a process pool give the same inventory."""

from __future__ import annotations

import multiprocessing
import pickle
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

from cmkguard import Inventory, scan
from cmkguard.aws import AccessSpec, AwsAccess
from cmkguard.inventory.aws_units import run_unit
from cmkguard.inventory.units import KeyReadUnit, KeyUnit, ResourceUnit

REGIONS = ("us-east-1", "eu-west-1")


def _comparable(inv: Inventory) -> dict[str, Any]:
    data = inv.to_dict()
    data.pop("scanned_at")
    return data


def test_units_and_their_results_pickle(shared_small_estate: Any) -> None:
    spec = AwsAccess.from_spec(
        AccessSpec.from_session(shared_small_estate.aws.session("us-east-1"))
    )
    unit = ResourceUnit(spec, "111122223333", "us-east-1", "secretsmanager:secret")
    assert pickle.loads(pickle.dumps(unit)) == unit
    key_unit = KeyUnit(spec, "111122223333", "us-east-1", shared_small_estate.cmk_arn)
    result = run_unit(key_unit)  # an access never given a live session: rebuilt from its data
    assert result.metadata is not None
    assert result.metadata["Arn"] == shared_small_estate.cmk_arn
    assert pickle.loads(pickle.dumps(result)) == result
    read = KeyReadUnit(
        spec, "111122223333", "us-east-1", key_unit.key_arn, "GetKeyPolicy", result.metadata
    )
    policy = run_unit(pickle.loads(pickle.dumps(read)))
    assert "Statement" in policy.value
    assert "secret_access_key" not in repr(spec)


def test_thread_and_process_pools_give_the_same_inventory(shared_small_estate: Any) -> None:
    session = shared_small_estate.aws.session("us-east-1")
    default = scan(session, regions=REGIONS)
    with ThreadPoolExecutor(4) as threads:
        threaded = scan(session, regions=REGIONS, executor=threads)
    # spawn: a fresh interpreter per worker, so nothing is inherited but the pickled units.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2, mp_context=context) as processes:
        in_processes = scan(session, regions=REGIONS, executor=processes)
    assert len(default.resources) > len(shared_small_estate.expected)  # + automated snapshots
    assert _comparable(threaded) == _comparable(default)
    assert _comparable(in_processes) == _comparable(default)
