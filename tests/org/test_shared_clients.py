"""The shared clients of organisation scans: one botocore client per service and region for
every member role, each request signed as its own role, never as anyone else."""

from __future__ import annotations

import botocore.exceptions
import pytest

from cmkguard.aws.access import AccessSpec, AwsAccess, SharedClients
from cmkguard.aws.identity import caller_account
from cmkguard.testing import EmulatedOrganization

ROLE = "OrganizationAccountAccessRole"


def _members(org: EmulatedOrganization) -> list[str]:
    truth = org.truth
    return [a for a in truth.readable if a != truth.management_account][:2]


def test_each_role_reads_its_own_account_through_one_client(org: EmulatedOrganization) -> None:
    first, second = _members(org)
    shared = SharedClients()
    signed: list[tuple[str, str | None]] = []
    with AwsAccess.from_spec(AccessSpec.from_session(org.session()), shared=shared) as base:
        a, b = base.for_account(first, ROLE), base.for_account(second, ROLE)
        a.add_sign_hook(lambda operation_name=None, **_: signed.append((first, operation_name)))
        sts_a, sts_b = a.client("sts", "eu-west-1"), b.client("sts", "eu-west-1")
        assert sts_a.get_caller_identity()["Account"] == first
        assert sts_b.get_caller_identity()["Account"] == second
        # Paged reads are signed as the role too: every key listed is the account's own.
        for account, access in ((first, a), (second, b)):
            pages = access.client("kms", "eu-west-1").get_paginator("list_keys").paginate()
            arns = [k["KeyArn"] for page in pages for k in page["Keys"]]
            assert arns
            assert {arn.split(":")[4] for arn in arns} == {account}
        # One botocore client underneath both (its `meta` is shared, not copied per role).
        one = shared.client(base.spec.endpoint_url, "sts", "eu-west-1")
        assert sts_a.meta is sts_b.meta is one.meta
    # The hook of the first role saw its own two requests, none of the second's.
    assert signed == [(first, "GetCallerIdentity"), (first, "ListKeys")]


def test_an_unbound_request_is_never_sent_as_anyone(org: EmulatedOrganization) -> None:
    shared = SharedClients()
    client = shared.client(AccessSpec.from_session(org.session()).endpoint_url, "sts", "eu-west-1")
    with pytest.raises(botocore.exceptions.NoCredentialsError):
        client.get_caller_identity()


def test_the_caller_own_access_keeps_its_own_clients(org: EmulatedOrganization) -> None:
    shared = SharedClients()
    with AwsAccess.from_spec(AccessSpec.from_session(org.session()), shared=shared) as base:
        own = base.client("sts", "eu-west-1")
        assert own.get_caller_identity()["Account"] == org.truth.management_account
        assert own is not shared.client(base.spec.endpoint_url, "sts", "eu-west-1")


def test_roles_are_assumed_without_a_session_or_client_per_account(
    org: EmulatedOrganization,
) -> None:
    """Entering many accounts builds the caller's session once and one STS client, not a
    session and an STS client per account; each access is still signed as its own role,
    and its session (built only when asked for) has the same credentials."""
    first, second = _members(org)
    shared = SharedClients()
    spec = AccessSpec.from_session(org.session())
    for account in (first, second, first):
        with AwsAccess.from_spec(spec, shared=shared) as base:
            access = base.for_account(account, ROLE)
            credentials = access.credentials()
            assert credentials.get_frozen_credentials().access_key
            sts = access.client("sts", "eu-west-1")
            assert sts.get_caller_identity()["Account"] == account
            # The identity check's own client (fail-fast configuration) is shared as well.
            assert caller_account(access, "eu-west-1") == account
            assert access.session.get_credentials() is credentials
    assert list(shared._bases) == [spec]  # the caller's session: once, for every account
    # One STS client for AssumeRole (the caller's region), one for the reads in eu-west-1,
    # one with the identity check's fail-fast configuration: three, for any number of accounts.
    built = sorted((key[1], key[2], key[3] is not None) for key in shared._clients)
    assert built == [
        ("sts", "eu-west-1", False),
        ("sts", "eu-west-1", True),
        ("sts", spec.region, False),
    ]


def test_a_role_that_cannot_be_assumed_raises_when_its_credentials_are_asked(
    org: EmulatedOrganization,
) -> None:
    shared = SharedClients()
    unassumable = org.truth.unassumable[0]
    with AwsAccess.from_spec(AccessSpec.from_session(org.session()), shared=shared) as base:
        access = base.for_account(unassumable, ROLE)
        with pytest.raises(botocore.exceptions.ClientError):
            access.credentials()
