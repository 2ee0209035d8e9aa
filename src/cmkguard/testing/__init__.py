"""The emulated AWS account: moto's in-process server on 127.0.0.1, made realistic.

`EmulatedAWS` runs the server and hands out sessions per account and region;
`seed_estate` fills it with a realistic estate and returns its `GroundTruth`.
The pytest plugin (`cmkguard.testing.pytest_plugin`) exposes both as fixtures.

Needs the `demo` extra (`pip install 'cmkguard[demo]'`): moto is imported when an emulator
starts, and a missing moto raises `cmkguard.MissingExtraError`.
"""

from cmkguard.testing._emulator import EmulatedAWS
from cmkguard.testing._faults import Fault, FaultInjector, FaultKind
from cmkguard.testing._org import (
    EmulatedOrganization,
    ExpectedAccount,
    OrgTruth,
    RequestRecord,
    seed_organization,
)
from cmkguard.testing._seed import seed_estate
from cmkguard.testing._truth import ExpectedKey, ExpectedResource, GroundTruth

__all__ = [
    "EmulatedAWS",
    "EmulatedOrganization",
    "ExpectedAccount",
    "ExpectedKey",
    "ExpectedResource",
    "Fault",
    "FaultInjector",
    "FaultKind",
    "GroundTruth",
    "OrgTruth",
    "RequestRecord",
    "seed_estate",
    "seed_organization",
]
