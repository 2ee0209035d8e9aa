"""cmkguard.aws.access: the access description, the object's lifetime, pickling, roles."""

from __future__ import annotations

import pickle
from typing import Any

import boto3
import botocore.awsrequest
import pytest

from cmkguard.aws import AccessSpec
from cmkguard.aws.access import _fast_timestamp
from cmkguard.aws.session import EndpointSession
from cmkguard.testing import EmulatedAWS


def test_access_spec_captures_explicit_keys_and_endpoint_but_never_prints_them() -> None:
    session = EndpointSession(
        endpoint_url="http://127.0.0.1:1",
        aws_access_key_id="AKIAEXAMPLE",
        aws_secret_access_key="very-secret",
        region_name="eu-west-1",
    )
    spec = AccessSpec.from_session(session)
    assert (spec.endpoint_url, spec.access_key_id, spec.region) == (
        "http://127.0.0.1:1",
        "AKIAEXAMPLE",
        "eu-west-1",
    )
    assert "very-secret" not in repr(spec)
    again = pickle.loads(pickle.dumps(spec))
    rebuilt = again.base_session()
    assert isinstance(rebuilt, EndpointSession)
    assert rebuilt.get_credentials().secret_key == "very-secret"  # type: ignore[union-attr]
    assert spec.for_role("arn:aws:iam::1:role/x").role_arn == "arn:aws:iam::1:role/x"


def test_access_spec_of_a_profile_session_keeps_only_the_profile(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config"  # type: ignore[operator]
    config.write_text("[profile audit]\nregion = eu-west-1\n")
    credentials = tmp_path / "credentials"  # type: ignore[operator]
    credentials.write_text("[audit]\naws_access_key_id = A\naws_secret_access_key = B\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    spec = AccessSpec.from_session(boto3.Session(profile_name="audit"))
    assert (spec.profile, spec.region, spec.access_key_id) == ("audit", "eu-west-1", None)


@pytest.mark.parametrize(
    "value", ["2026-11-22T13:29:32.809306Z", "2026-11-22T13:29:32+00:00", 1700000000.5, "17000"]
)
def test_fast_timestamps_equal_botocores(value: object) -> None:
    from botocore.utils import parse_timestamp

    assert _fast_timestamp(value) == parse_timestamp(value)


# The private botocore attribute use_fast_timestamps replaces: this fails when botocore changes.


def test_botocore_still_reads_the_parser_factory_we_replace() -> None:
    import inspect

    import botocore.endpoint

    from cmkguard.aws.access import _scan_parser_factory, use_fast_timestamps
    from cmkguard.aws.session import make_client

    client = make_client(boto3.Session(region_name="us-east-1"), "kms", "us-east-1")
    assert "_response_parser_factory" in vars(client._endpoint)
    assert "self._response_parser_factory.create_parser" in inspect.getsource(
        botocore.endpoint.Endpoint
    )
    assert use_fast_timestamps(client) is True
    factory = client._endpoint._response_parser_factory
    assert type(factory) is type(_scan_parser_factory())
    parser = factory.create_parser("json")
    assert parser._timestamp_parser is _fast_timestamp  # botocore keeps the default it was given


# New botocore sessions start from a copy of one emitter holding botocore's built-in handlers
# (`_builtin_handlers`): these fail when botocore registers its built-ins differently.


def _handlers_for(session: Any, event: str) -> list[Any]:
    return list(session._original_handler._handlers.prefix_search(event))


def test_a_core_session_has_exactly_botocores_builtin_handlers() -> None:
    import botocore.handlers
    import botocore.session

    from cmkguard.aws.access import _core_session

    plain = botocore.session.Session()
    ours = _core_session()
    events = {entry[0] for entry in botocore.handlers.BUILTIN_HANDLERS}
    assert len(events) > 50
    for event in sorted(events):
        for name in (event, f"{event}.kms.ListKeys", f"{event}.rds.DescribeDBInstances"):
            assert _handlers_for(ours, name) == _handlers_for(plain, name), name


def test_core_sessions_do_not_share_handlers_registered_later() -> None:
    from cmkguard.aws.access import _builtin_handlers, _core_session

    def marker(**_: Any) -> None:
        return None

    first, second = _core_session(), _core_session()
    first.register("before-call.kms", marker)
    assert marker in _handlers_for(first, "before-call.kms.ListKeys")
    assert marker not in _handlers_for(second, "before-call.kms.ListKeys")
    assert marker not in list(
        _builtin_handlers()._handlers.prefix_search("before-call.kms.ListKeys")
    )


# The object: explicit lifetime, per-instance clients, pickling as its description, roles.


def test_clients_are_built_once_per_access_and_closed_with_it(
    cmkguard_emulated_aws: EmulatedAWS,
) -> None:
    from cmkguard.aws import AwsAccess
    from cmkguard.errors import ConfigurationError

    session = cmkguard_emulated_aws.session("us-east-1")
    cmkguard_emulated_aws.client("kms", "us-east-1").create_key()
    with AwsAccess.from_session(session) as access:
        assert access.session is session  # the caller's own session, hooks and all
        kms = access.client("kms", "us-east-1")
        assert access.client("kms", "us-east-1") is kms
        assert access.client("kms", "eu-west-1") is not kms
        assert kms.list_keys()["Keys"]
        other = AwsAccess.from_session(session)
        assert other.client("kms", "us-east-1") is not kms  # nothing shared between accesses
        other.close()
    assert access.closed
    with pytest.raises(ConfigurationError, match="closed"):
        access.client("kms", "us-east-1")
    access.close()  # idempotent


def test_a_pickled_access_is_its_description_and_rebuilds_elsewhere(
    cmkguard_emulated_aws: EmulatedAWS,
) -> None:
    from cmkguard.aws import AwsAccess
    from cmkguard.aws.access import _restore

    session = cmkguard_emulated_aws.session("us-east-1")
    cmkguard_emulated_aws.client("kms", "us-east-1").create_key()
    with AwsAccess.from_session(session) as access:
        same_process = pickle.loads(pickle.dumps(access))
        assert same_process is access  # unpickled where it lives: the live object itself
        assert "very-secret" not in repr(access)
        # What a worker process does with a description it has never seen:
        spec = AccessSpec.from_session(session)
        rebuilt = _restore(spec)
        assert rebuilt is not access
        assert rebuilt.spec == spec
        assert rebuilt.session is not session
        assert rebuilt.client("kms", "us-east-1").list_keys()["Keys"]
        assert _restore(spec) is rebuilt  # once per process, not once per unit
        rebuilt.close()


def test_for_role_assumes_lazily_chains_and_is_closed_with_its_parent(
    cmkguard_emulated_aws: EmulatedAWS,
) -> None:
    import botocore.exceptions as bx

    from cmkguard.aws import AwsAccess, RoleHop
    from cmkguard.aws.identity import caller_account, check_role

    session = cmkguard_emulated_aws.session("us-east-1")
    other = cmkguard_emulated_aws.accounts[1]
    denied = f"arn:aws:iam::{other}:role/denied"
    session.events.register("before-call.sts.AssumeRole", _deny(denied))
    with AwsAccess.from_session(session) as access:
        role = f"arn:aws:iam::{other}:role/cmkguard-scan"
        child = access.for_role(role, external_id="ext-1")
        assert child.spec.roles == (RoleHop(role, "ext-1"),)
        assert "ext-1" not in repr(child.spec)
        assert caller_account(child.session, "us-east-1") == other
        creds = child.session.get_credentials()
        assert creds is not None
        assert creds.method == "cmkguard-assume-role"
        by_account = access.for_account(other, "cmkguard-scan")
        assert by_account.spec.role_arn == role
        chained = child.for_role(f"arn:aws:iam::{other}:role/cmkguard-scan")
        assert len(chained.spec.roles) == 2
        assert caller_account(chained.session, "us-east-1") == other
        # The chain survives pickling into a process that never saw the parent.
        from cmkguard.aws.access import _restore

        fresh = _restore(AccessSpec(**{**_fields(chained.spec), "access_id": "fresh"}))
        assert caller_account(fresh.session, "us-east-1") == other
        fresh.close()
        bad = access.for_role(denied)
        failure = check_role(bad)
        assert failure is not None
        assert failure[1] is not None
        with pytest.raises(bx.ClientError):
            bad.session  # noqa: B018
    assert child.closed
    assert chained.closed
    assert by_account.closed


def _fields(spec: AccessSpec) -> dict[str, object]:
    import attrs

    return attrs.asdict(spec, recurse=False)


def test_for_account_needs_an_account_id() -> None:
    from cmkguard.aws import AwsAccess
    from cmkguard.errors import ConfigurationError

    with (
        AwsAccess.from_session(boto3.Session(region_name="us-east-1")) as access,
        pytest.raises(ConfigurationError, match="account id"),
    ):
        access.for_account("12345", "Audit")


def _deny(role_arn: str) -> Any:
    """A before-call hook: AccessDenied for AssumeRole of `role_arn` (what AWS answers)."""

    def handler(params: dict[str, Any], **kwargs: Any) -> Any:
        body = params.get("body") or {}
        if isinstance(body, dict) and body.get("RoleArn") == role_arn:
            error = {"Error": {"Code": "AccessDenied", "Message": "not authorized"}}
            return (botocore.awsrequest.AWSResponse("", 403, {}, None), error)
        return None

    return handler
