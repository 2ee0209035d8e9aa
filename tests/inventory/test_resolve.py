"""cmkguard.inventory.resolve: every key identifier form, answered from what the scan read."""

from __future__ import annotations

import pytest

from cmkguard import KeyClass, KmsKey
from cmkguard.inventory.resolve import KeyResolver, Lookup, Resolved
from cmkguard.types import KeyArn

ACCOUNT = "111122223333"
OTHER = "444455556666"
CMK = KeyArn(f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/1111")
RDS_KEY = KeyArn(f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/2222")


def _key(arn: str, manager: str = "CUSTOMER") -> KmsKey:
    return KmsKey(
        arn=KeyArn(arn),
        key_id=arn.rsplit("/", 1)[-1],
        account=arn.split(":")[4],  # type: ignore[arg-type]
        region=arn.split(":")[3],  # type: ignore[arg-type]
        manager=manager,
        state="Enabled",
    )


@pytest.fixture(name="resolver")
def _resolver() -> KeyResolver:
    resolver = KeyResolver(scanned={(ACCOUNT, "eu-west-1")})
    resolver.add_listing(
        ACCOUNT, "eu-west-1", (CMK, RDS_KEY), {"alias/app": "1111", "alias/aws/rds": "2222"}
    )
    resolver.add_key(_key(CMK))
    resolver.add_key(_key(RDS_KEY, "AWS"))
    return resolver


@pytest.mark.parametrize(
    "ident",
    ["1111", CMK, "alias/app", f"arn:aws:kms:eu-west-1:{ACCOUNT}:alias/app"],
)
def test_every_identifier_form_resolves_from_the_listing(resolver: KeyResolver, ident: str) -> None:
    answer = resolver.lookup(ACCOUNT, "eu-west-1", ident)
    assert isinstance(answer, Resolved)
    assert answer.key_arn == CMK
    assert answer.classify(ACCOUNT) == (KeyClass.CUSTOMER_MANAGED, None)


def test_aws_managed_and_missing_default_aliases(resolver: KeyResolver) -> None:
    answer = resolver.lookup(ACCOUNT, "eu-west-1", "alias/aws/rds")
    assert isinstance(answer, Resolved)
    assert answer.classify(ACCOUNT)[0] is KeyClass.AWS_MANAGED
    # aws/secretsmanager does not exist yet: still AWS-managed, no key ARN, no request.
    missing = resolver.lookup(ACCOUNT, "eu-west-1", "alias/aws/secretsmanager")
    assert isinstance(missing, Resolved)
    assert missing.key_arn is None
    assert missing.classify(ACCOUNT)[0] is KeyClass.AWS_MANAGED


def test_what_the_listing_cannot_answer_needs_a_describe(resolver: KeyResolver) -> None:
    other = f"arn:aws:kms:eu-west-1:{OTHER}:key/9999"
    assert resolver.lookup(ACCOUNT, "eu-west-1", other) is Lookup.DESCRIBE
    assert resolver.lookup(ACCOUNT, "eu-west-1", "alias/unknown") is Lookup.DESCRIBE
    assert resolver.lookup(ACCOUNT, "us-east-1", "alias/app") is Lookup.DESCRIBE  # not scanned
    resolver.scanned.add((ACCOUNT, "us-east-1"))
    assert resolver.lookup(ACCOUNT, "us-east-1", "alias/app") is Lookup.WAIT
    # A describe that fails still leaves the other account's key cross-account, with a reason.
    resolver.add_described(ACCOUNT, "eu-west-1", other, None, "access denied: no")
    answer = resolver.lookup(ACCOUNT, "eu-west-1", other)
    assert isinstance(answer, Resolved)
    assert answer.key_arn == other
    assert answer.classify(ACCOUNT) == (KeyClass.CROSS_ACCOUNT, "access denied: no")


def test_a_listed_key_whose_describe_was_denied_is_unknown(resolver: KeyResolver) -> None:
    denied = KeyArn(f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/3333")
    resolver.add_listing(ACCOUNT, "eu-west-1", (CMK, denied), {})
    assert resolver.lookup(ACCOUNT, "eu-west-1", denied) is Lookup.WAIT
    resolver.add_denied(denied, "access denied: key policy")
    answer = resolver.lookup(ACCOUNT, "eu-west-1", "3333")
    assert isinstance(answer, Resolved)
    assert answer.classify(ACCOUNT) == (KeyClass.UNKNOWN, "access denied: key policy")


def test_unrecognised_identifiers_are_unknown(resolver: KeyResolver) -> None:
    answer = resolver.lookup(ACCOUNT, "eu-west-1", "arn:aws:s3:::bucket")
    assert isinstance(answer, Resolved)
    assert answer.classify(ACCOUNT)[0] is KeyClass.UNKNOWN
