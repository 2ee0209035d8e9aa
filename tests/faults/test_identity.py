"""The identity check (`sts:GetCallerIdentity`, the first call of every scan) names the real
cause: throttling, an unreadable answer, an endpoint that never answers, refused credentials.

Throttling and refusals come from the fault kit on the emulated account; "never answers" is a
socket on 127.0.0.1 that accepts connections (the kernel's backlog) and never replies.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.config import Config

from cmkguard import scan
from cmkguard.aws import identity
from cmkguard.aws.session import EndpointSession
from cmkguard.errors import AwsAccessError, EndpointUnreachableError
from cmkguard.testing import Fault, FaultKind

STS = {"service": "sts", "operation": "GetCallerIdentity"}


@pytest.fixture(name="estate", scope="module")
def _estate(cmkguard_seeded_estate_module: Any) -> Any:
    return cmkguard_seeded_estate_module


@pytest.fixture(name="fast_probe")
def _fast_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two attempts instead of four: one backoff (~0.5 s) instead of three (~3.5 s)."""
    monkeypatch.setattr(
        identity,
        "_PROBE_CONFIG",
        Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=3, read_timeout=5),
    )


def _identity_error(estate: Any, fault: Fault) -> AwsAccessError:
    injector = estate.aws.faults
    injector.clear()
    with injector.injecting(fault), pytest.raises(AwsAccessError) as caught:
        scan(
            estate.aws.session("us-east-1"),
            regions=["us-east-1"],
            resource_types=["secretsmanager"],
        )
    assert injector.injected()[("sts", "GetCallerIdentity", fault.kind.value)] >= 1
    injector.clear()
    return caught.value


@pytest.mark.usefixtures("fast_probe")
def test_throttling_is_named_throttling_not_refused_credentials(estate: Any) -> None:
    error = _identity_error(estate, Fault(FaultKind.THROTTLE, **STS))
    assert "throttled" in str(error)
    assert "refused the credentials" not in str(error)
    assert "sts:GetCallerIdentity" in str(error)


@pytest.mark.usefixtures("fast_probe")
def test_throttling_that_passes_within_the_retries_is_no_error(estate: Any) -> None:
    injector = estate.aws.faults
    injector.clear()
    with injector.injecting(Fault(FaultKind.THROTTLE, **STS, first=1)):
        inventory = scan(
            estate.aws.session("us-east-1"),
            regions=["us-east-1"],
            resource_types=["secretsmanager"],
        )
    assert injector.injected()[("sts", "GetCallerIdentity", "throttle")] == 1
    injector.clear()
    assert inventory.accounts == (estate.aws.primary_account,)


def test_refused_credentials_are_named_so(estate: Any) -> None:
    error = _identity_error(estate, Fault(FaultKind.ACCESS_DENIED, **STS))
    assert "AWS refused the credentials" in str(error)


@pytest.mark.parametrize(
    "kind", [FaultKind.HTML_ERROR, FaultKind.GARBLED_BODY, FaultKind.TRUNCATED_BODY]
)
def test_an_unreadable_answer_is_not_called_refused_credentials(
    estate: Any, kind: FaultKind
) -> None:
    error = _identity_error(estate, Fault(kind, **STS))
    assert "credentials not checked" in str(error)
    assert "refused the credentials" not in str(error)


@pytest.fixture(name="silent_endpoint")
def _silent_endpoint() -> Iterator[str]:
    """An endpoint on 127.0.0.1 that accepts connections and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)  # connections complete in the backlog; nothing is ever read
        yield f"http://127.0.0.1:{server.getsockname()[1]}"


def test_an_endpoint_that_never_answers_is_unreachable_within_the_deadline(
    silent_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real bounds are 5 s per attempt and 15 s in all (benchmarks/faults.py measures
    # them); shortened here so the test stays fast: the deadline stops the retries.
    monkeypatch.setattr(
        identity,
        "_PROBE_CONFIG",
        Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=1, read_timeout=1),
    )
    monkeypatch.setattr(identity, "_PROBE_DEADLINE_S", 1.5)
    session = EndpointSession(
        endpoint_url=silent_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    started = time.monotonic()
    with pytest.raises(EndpointUnreachableError) as caught:
        scan(session, regions=["us-east-1"], resource_types=["secretsmanager"])
    elapsed = time.monotonic() - started
    assert "accepted the connection but gave no answer in time" in str(caught.value)
    assert caught.value.endpoint == silent_endpoint
    assert "refused the credentials" not in str(caught.value)
    # 4 attempts of 1 s would be 4 s and more with backoff: the deadline cut them short.
    assert elapsed < 1.5 + 1 + 1.5, f"{elapsed:.1f} s"
