"""ARN and key-identifier parsing (pure)."""

from __future__ import annotations

import pytest

from cmkguard.arn import is_account_id, is_org_id, parse_arn, parse_key_reference


@pytest.mark.parametrize("text", ["111122223333", "000000000000"])
def test_account_ids(text: str) -> None:
    assert is_account_id(text)


@pytest.mark.parametrize(
    "text", ["11112222333", "1111222233334", "111122223333\n", "١١١١٢٢٢٢٣٣٣٣", "11112222333a", ""]
)
def test_not_account_ids(text: str) -> None:
    assert not is_account_id(text)


def test_parse_arn_keeps_colons_in_the_resource() -> None:
    arn = parse_arn("arn:aws:rds:eu-west-1:111122223333:snapshot:rds:orders-2026-11-22")
    assert (arn.service, arn.region, arn.account) == ("rds", "eu-west-1", "111122223333")
    assert arn.resource == "snapshot:rds:orders-2026-11-22"
    assert str(arn) == "arn:aws:rds:eu-west-1:111122223333:snapshot:rds:orders-2026-11-22"


@pytest.mark.parametrize("text", ["", "arn:aws", "nope:aws:kms:r:a:key/x", "arn::kms:r:a:key/x"])
def test_parse_arn_rejects_non_arns(text: str) -> None:
    with pytest.raises(ValueError, match="not an ARN"):
        parse_arn(text)


@pytest.mark.parametrize(
    ("raw", "kind", "name", "account"),
    [
        (
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            "key-id",
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            None,
        ),
        ("alias/orders", "alias", "alias/orders", None),
        ("arn:aws:kms:eu-west-1:111122223333:key/k-1", "key-arn", "k-1", "111122223333"),
        ("arn:aws:kms:eu-west-1:444455556666:alias/x", "alias-arn", "alias/x", "444455556666"),
    ],
)
def test_key_references(raw: str, kind: str, name: str, account: str | None) -> None:
    ref = parse_key_reference(raw)
    assert (ref.kind, ref.name, ref.account) == (kind, name, account)
    assert ref.is_alias == kind.startswith("alias")


@pytest.mark.parametrize(
    "raw", ["", "arn:aws:s3:::bucket", "arn:aws:kms:eu-west-1:111122223333:grant/x", "a/b"]
)
def test_bad_key_references(raw: str) -> None:
    with pytest.raises(ValueError, match="not a KMS key"):
        parse_key_reference(raw)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("o-a1b2c3d4e5", True), ("o-abc", False), ("o-A1B2C3D4E5", False), ("o-a1b2c3d4e5\n", False)],
)
def test_org_ids(text: str, expected: bool) -> None:
    assert is_org_id(text) is expected
