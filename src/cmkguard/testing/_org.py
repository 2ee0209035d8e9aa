"""The emulated organisation: AWS Organizations, member roles and a central key account.

`seed_organization` turns a running `EmulatedAWS` into an
organisation and returns an `EmulatedOrganization` (its rules, request log and ground
truth). Layout, deterministic for a given `members`:

* the management account is the emulator's primary account; it has no member role;
* a central **key account** (OU `Security`, the delegated administrator) owns the
  organisation's shared CMKs: `org-data` (usable by the whole organisation through
  `aws:PrincipalOrgID`) and `partner-share` (granted to an account outside the
  organisation: a finding); a `CmkGuardHub` role there trusts the management account;
* `members` member accounts in OUs `Workloads/Prod`, `Workloads/Dev` and `Sandbox`, each
  with `OrganizationAccountAccessRole` (trusting the management account, as AWS creates it) and
  `CmkGuardAudit` (trusting only the hub role, with an `ExternalId`), and a small estate per
  region whose databases and secrets use the key account's `org-data` CMK, their own CMK and
  the AWS-managed keys;
* one member is suspended (closed), one has no roles (its AssumeRole is denied).

moto gives Organizations and multi-account (requests made with an assumed role's credentials
act in the role's account) but trusts every `AssumeRole` and lets any account list the
organisation. The rules installed here answer as AWS does, server-side (so every client sees
them): `AssumeRole` needs the role to exist and its trust policy to allow the caller
(principal and `sts:ExternalId`; a suspended account refuses everyone); Organizations reads
are refused to members that are not delegated administrators, routed to the management
account for those that are; `ListAccounts` refuses `MaxResults` above 20 and (by default)
returns an empty page with a next token before every page, as AWS may. Regions can be denied
to an account as an SCP would (`EmulatedOrganization.deny_region`), and an account's
requests throttled (`EmulatedOrganization.throttle`).
"""

from __future__ import annotations

import io
import json
import threading
import time
import urllib.parse
from collections.abc import Iterable, Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

import attrs
import botocore.loaders

from cmkguard.errors import ConfigurationError
from cmkguard.inventory.values import KeyClass
from cmkguard.testing import _moto, _org_moto
from cmkguard.testing._direct import DirectKms, DirectRds, DirectSecretsManager
from cmkguard.testing._truth import ExpectedKey, ExpectedResource, GroundTruth
from cmkguard.types import AccountId, KeyArn, Region, ResourceArn, ResourceTypeName

if TYPE_CHECKING:
    from cmkguard.testing._emulator import EmulatedAWS
    from cmkguard.testing._middleware import RequestInfo, StartResponse

__all__ = [
    "AUDIT_ROLE",
    "HUB_ROLE",
    "MEMBER_ROLE",
    "OUTSIDE_ACCOUNT",
    "EmulatedOrganization",
    "ExpectedAccount",
    "OrgTruth",
    "RequestRecord",
    "seed_organization",
]

MEMBER_ROLE = "OrganizationAccountAccessRole"
"""The role AWS creates in every account made by the organisation (trusts the management)."""
AUDIT_ROLE = "CmkGuardAudit"
"""A scanner role in every member, trusting only the hub role, with an `ExternalId`."""
HUB_ROLE = "CmkGuardHub"
"""The hub role in the key account (trusts the management account): first hop of a chain."""
OUTSIDE_ACCOUNT = "999988887777"
"""An account outside the organisation that `partner-share` is granted to."""
KEY_ACCOUNT = "444455556666"
_EMULATOR_ROLE = "cmkguard-emulated-admin"  # EmulatedAWS.session(account=...) assumes it
_DELEGATED_SERVICE = "access-analyzer.amazonaws.com"
_MEMBER_OUS: tuple[tuple[str, ...], ...] = (
    ("Workloads", "Prod"),
    ("Workloads", "Dev"),
    ("Sandbox",),
)
_EMPTY_PAGE = "cmkguard-empty-page:"
_GLOBAL_SERVICES = frozenset({"sts", "iam", "organizations"})
_SECRET_VALUE = '{"username": "app", "password": "fake-not-a-secret"}'  # loopback only
_DB_PASSWORD = "fake-password-not-a-secret-1"  # loopback only
_DB = ResourceTypeName("rds:db-instance")
_SECRET = ResourceTypeName("secretsmanager:secret")
_SNAPSHOT = ResourceTypeName("rds:db-snapshot")


@attrs.frozen
class ExpectedAccount:
    """One account of the emulated organisation as seeded.

    `ou_path` is the OU names from the root (`("Workloads", "Prod")`; `()` under the
    root); `status` `ACTIVE` or `SUSPENDED`; `assumable` whether its member roles
    exist.
    """

    id: AccountId
    name: str
    ou_path: tuple[str, ...]
    status: str = "ACTIVE"
    assumable: bool = True


@attrs.frozen
class OrgTruth:
    """What `seed_organization` made, computed from what was created.

    `estate` holds every resource and key of every account; `shared_key_dependents` maps
    each key of the key account to the resources (in any account) encrypted with it (the
    kill-switch answer); `outside_shared_keys` the keys whose policy grants an account
    outside the organisation.
    """

    org_id: str
    management_account: AccountId
    key_account: AccountId
    external_id: str
    accounts: Mapping[AccountId, ExpectedAccount]
    estate: GroundTruth
    shared_key_dependents: Mapping[KeyArn, frozenset[ResourceArn]]
    outside_shared_keys: frozenset[KeyArn]
    regions: tuple[Region, ...]

    @property
    def suspended(self) -> tuple[AccountId, ...]:
        """Accounts that are closed (listed by Organizations, `SUSPENDED`)."""
        return tuple(a for a, acc in self.accounts.items() if acc.status != "ACTIVE")

    @property
    def unassumable(self) -> tuple[AccountId, ...]:
        """Active accounts whose member roles do not exist."""
        return tuple(
            a for a, acc in self.accounts.items() if acc.status == "ACTIVE" and not acc.assumable
        )

    @property
    def readable(self) -> tuple[AccountId, ...]:
        """Active accounts a scan from the management account can read (its own included)."""
        return tuple(
            a for a, acc in self.accounts.items() if acc.status == "ACTIVE" and acc.assumable
        )

    def resources_in(self, account: str) -> list[ExpectedResource]:
        """The seeded resources of `account`, sorted by ARN."""
        return sorted(
            (r for r in self.estate.resources.values() if r.account == account),
            key=lambda r: r.arn,
        )


@attrs.frozen
class RequestRecord:
    """One request the emulated organisation saw: when (`time.monotonic()`), the account it
    acted in, region, service and operation."""

    at: float
    account: str
    region: str
    service: str
    operation: str


# -- error responses in each protocol's shape -------------------------------------------------


@cache
def _protocol(service: str) -> str:
    try:
        model = botocore.loaders.create_loader().load_service_model(service, "service-2")
    except Exception:  # an unknown signing name: answer in JSON
        return "json"
    return str(model.get("metadata", {}).get("protocol", "json"))


def _error(
    start_response: StartResponse, service: str, code: str, message: str, status: int
) -> list[bytes]:
    """An AWS error response as `service`'s protocol renders it (what botocore parses)."""
    protocol = _protocol(service)
    reason = {400: "Bad Request", 403: "Forbidden"}.get(status, "Error")
    if protocol == "query":
        body = (
            f'<ErrorResponse xmlns="https://{service}.amazonaws.com/doc/"><Error><Type>Sender'
            f"</Type><Code>{code}</Code><Message>{_xml_escape(message)}</Message></Error>"
            "<RequestId>cmkguard-emulated</RequestId></ErrorResponse>"
        ).encode()
        headers = [("Content-Type", "text/xml")]
    elif protocol == "rest-json":
        body = json.dumps({"message": message}).encode()
        headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", code)]
    else:
        body = json.dumps({"__type": code, "message": message}).encode()
        headers = [("Content-Type", "application/x-amz-json-1.1")]
    start_response(f"{status} {reason}", [*headers, ("Content-Length", str(len(body)))])
    return [body]


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _buffered_body(environ: dict[str, Any]) -> bytes:
    stream = environ["wsgi.input"]
    if isinstance(stream, io.BytesIO):
        return stream.getvalue()
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = stream.read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _json_request(environ: dict[str, Any]) -> dict[str, Any]:
    try:
        data = json.loads(_buffered_body(environ) or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _replace_json_body(environ: dict[str, Any], data: Mapping[str, Any]) -> None:
    body = json.dumps(dict(data)).encode()
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))


def _json_answer(start_response: StartResponse, data: Mapping[str, Any]) -> list[bytes]:
    body = json.dumps(dict(data)).encode()
    start_response(
        "200 OK",
        [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(body)))],
    )
    return [body]


# -- trust policies (the shapes this module writes) -------------------------------------------


def _values(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else [str(v) for v in value or ()]


def _trust_allows(
    policy: Mapping[str, Any], caller: str, caller_arn: str, external_id: str | None
) -> bool:
    """Whether a trust policy lets `caller` (an account; `caller_arn` its principal) assume
    the role with `external_id`.

    Hand-written and deliberately small (a test oracle for the emulator, not an IAM engine):
    principals `*`, an account id, `arn:aws:iam::<account>:root` or an exact role ARN;
    actions `sts:AssumeRole`/`sts:*`/`*`; the one condition `StringEquals
    sts:ExternalId`. Any other condition does not match, so the emulator errs on "denied".
    """
    allowed = False
    for statement in _values_of_statements(policy.get("Statement")):
        actions = [a.lower() for a in _values(statement.get("Action"))]
        if not {"sts:assumerole", "sts:*", "*"} & set(actions):
            continue
        principal = statement.get("Principal")
        names = _values(principal.get("AWS") if isinstance(principal, dict) else principal)
        if not any(
            n in ("*", caller, f"arn:aws:iam::{caller}:root") or n == caller_arn for n in names
        ):
            continue
        if not _conditions_hold(statement.get("Condition") or {}, external_id):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


def _values_of_statements(statements: Any) -> list[Mapping[str, Any]]:
    items = [statements] if isinstance(statements, dict) else list(statements or ())
    return [s for s in items if isinstance(s, dict)]


def _conditions_hold(condition: Mapping[str, Any], external_id: str | None) -> bool:
    for operator, block in condition.items():
        if not isinstance(block, dict):
            return False
        for name, value in block.items():
            if operator != "StringEquals" or name.lower() != "sts:externalid":
                return False
            if external_id not in _values(value):
                return False
    return True


def _trust(principals: Iterable[str], external_id: str | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"AWS": sorted(principals)},
        "Action": "sts:AssumeRole",
    }
    if external_id is not None:
        statement["Condition"] = {"StringEquals": {"sts:ExternalId": external_id}}
    return {"Version": "2012-10-17", "Statement": [statement]}


# -- the rules --------------------------------------------------------------------------------


class _OrgRules:
    """The request hook that makes the emulator answer as an organisation does (see module)."""

    def __init__(self, management: str, empty_pages: bool) -> None:
        self.management = management
        self.empty_pages = empty_pages
        self.denied_regions: set[tuple[str, str]] = set()
        self.throttled: dict[str, int] = {}
        self.log: list[RequestRecord] = []
        self.recording = False
        self._lock = threading.Lock()

    def __call__(
        self,
        environ: dict[str, Any],
        info: RequestInfo,
        account: str,
        start_response: StartResponse,
    ) -> list[bytes] | None:
        if self.recording:
            record = RequestRecord(
                time.monotonic(), account, info.region, info.service, info.operation
            )
            with self._lock:
                self.log.append(record)
        if self._take_throttle(account):
            code = "Throttling" if _protocol(info.service) == "query" else "ThrottlingException"
            return _error(start_response, info.service, code, "Rate exceeded", 400)
        if info.service == "organizations":
            return self._organizations(environ, info, account, start_response)
        if info.service == "sts" and info.operation == "AssumeRole":
            return self._assume_role(environ, info, account, start_response)
        if info.service not in _GLOBAL_SERVICES and (account, info.region) in self.denied_regions:
            code = "AccessDenied" if _protocol(info.service) == "query" else "AccessDeniedException"
            message = (
                f"User: arn:aws:iam::{account}:root is not authorized to perform: "
                f"{info.service}:{info.operation} with an explicit deny in a service control "
                "policy"
            )
            return _error(start_response, info.service, code, message, 400)
        return None

    def _take_throttle(self, account: str) -> bool:
        with self._lock:
            left = self.throttled.get(account, 0)
            if left <= 0:
                return False
            self.throttled[account] = left - 1
            return True

    def _organizations(
        self,
        environ: dict[str, Any],
        info: RequestInfo,
        account: str,
        start_response: StartResponse,
    ) -> list[bytes] | None:
        management = _org_moto.management_account_of(account)
        if management is None:
            return _error(
                start_response,
                "organizations",
                "AWSOrganizationsNotInUseException",
                "Your account is not a member of an organization.",
                400,
            )
        if account != management and info.operation != "DescribeOrganization":
            is_admin = bool(_org_moto.delegated_admin_services(management, account))
            if not is_admin or not info.operation.startswith(("List", "Describe")):
                return _error(
                    start_response,
                    "organizations",
                    "AccessDeniedException",
                    "You don't have permissions to access this resource.",
                    400,
                )
            environ["HTTP_X_MOTO_ACCOUNT_ID"] = management  # a delegated administrator reads
        request = _json_request(environ)
        max_results = request.get("MaxResults")
        if max_results is not None and not (
            isinstance(max_results, int) and 1 <= max_results <= 20
        ):
            return _error(
                start_response,
                "organizations",
                "InvalidInputException",
                f"You specified an invalid value: MaxResults must be 1-20, not {max_results}.",
                400,
            )
        if info.operation == "ListAccounts" and self.empty_pages:
            token = request.get("NextToken")
            if isinstance(token, str) and token.startswith(_EMPTY_PAGE):
                real = token[len(_EMPTY_PAGE) :]
                rest = {k: v for k, v in request.items() if k != "NextToken"}
                _replace_json_body(environ, {**rest, "NextToken": real} if real else rest)
                return None
            return _json_answer(
                start_response, {"Accounts": [], "NextToken": _EMPTY_PAGE + (token or "")}
            )
        return None

    def _assume_role(
        self,
        environ: dict[str, Any],
        info: RequestInfo,
        account: str,
        start_response: StartResponse,
    ) -> list[bytes] | None:
        form = urllib.parse.parse_qs(_buffered_body(environ).decode(errors="replace"))
        role_arn = (form.get("RoleArn") or [""])[0]
        given = form.get("ExternalId")
        external_id = given[0] if given else None
        parts = role_arn.split(":")
        target = parts[4] if len(parts) > 5 else ""
        management = _org_moto.management_account_of(target) if target else None
        if management is None:
            return None  # not an account of the organisation: moto's behaviour
        access_key = _access_key(environ)
        caller_role = _org_moto.assumed_role_arn(account, access_key) if access_key else None
        caller_arn = caller_role or f"arn:aws:iam::{account}:root"
        policy = _org_moto.role_trust_policy(target, role_arn)
        status = _org_moto.account_status(management, target)
        if (
            policy is None
            or status not in (None, "ACTIVE")
            or not _trust_allows(policy, account, caller_arn, external_id)
        ):
            message = (
                f"User: {caller_arn} is not authorized to perform: sts:AssumeRole on resource: "
                f"{role_arn}"
            )
            return _error(start_response, "sts", "AccessDenied", message, 403)
        return None


def _access_key(environ: dict[str, Any]) -> str:
    header = str(environ.get("HTTP_AUTHORIZATION", ""))
    marker = "Credential="
    if marker not in header:
        return ""
    return header.split(marker, 1)[1].split("/", 1)[0]


# -- the handle -------------------------------------------------------------------------------


class EmulatedOrganization:
    """A seeded emulated organisation: its ground truth (`truth`) and its server-side rules.

    The rules stay installed until the emulator is reset.
    """

    def __init__(self, aws: EmulatedAWS, truth: OrgTruth, rules: _OrgRules) -> None:
        self.aws = aws
        self.truth = truth
        self._rules = rules

    def session(self, region: str = "us-east-1") -> Any:
        """A session in the management account (the emulator's primary account)."""
        return self.aws.session(region)

    def hub_session(self, region: str = "us-east-1") -> Any:
        """A session in the key account as its `CmkGuardHub` role (a delegated
        administrator), reached from the management account."""
        from cmkguard.aws.session import EndpointSession

        sts = self.aws.client("sts", region)
        creds = sts.assume_role(
            RoleArn=f"arn:aws:iam::{self.truth.key_account}:role/{HUB_ROLE}",
            RoleSessionName="cmkguard-emulated-hub",
        )["Credentials"]
        return EndpointSession(
            endpoint_url=self.aws.endpoint_url,
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            region_name=region,
        )

    @property
    def hub_role_arn(self) -> str:
        """The ARN of the hub role (first hop of a role chain)."""
        return f"arn:aws:iam::{self.truth.key_account}:role/{HUB_ROLE}"

    def set_member_role(self, account: str, present: bool) -> None:
        """Create (trusting the management account, as AWS does) or delete `account`'s
        `OrganizationAccountAccessRole`: make an account reachable or unreachable."""
        if present:
            management = f"arn:aws:iam::{self.truth.management_account}:root"
            _org_moto.create_role(account, MEMBER_ROLE, _trust([management]))
        else:
            _org_moto.delete_role(account, MEMBER_ROLE)

    def allow_region(self, account: str, region: str) -> None:
        """Undo `deny_region`."""
        self._rules.denied_regions.discard((account, region))

    def deny_region(self, account: str, region: str) -> None:
        """Refuse every regional request of `account` in `region` (an SCP region deny)."""
        self._rules.denied_regions.add((account, region))

    def throttle(self, account: str, requests: int) -> None:
        """Throttle the next `requests` requests acting in `account`."""
        self._rules.throttled[account] = requests

    @property
    def empty_pages(self) -> bool:
        """Whether `ListAccounts` returns an empty page (with a next token) before each page."""
        return self._rules.empty_pages

    @empty_pages.setter
    def empty_pages(self, value: bool) -> None:
        self._rules.empty_pages = value

    def record_requests(self, on: bool = True) -> None:
        """Start (or stop) recording every request in `request_log` (cleared on start)."""
        if on:
            with self._rules._lock:
                self._rules.log = []
        self._rules.recording = on

    def request_log(self) -> tuple[RequestRecord, ...]:
        """The requests recorded since `record_requests`."""
        with self._rules._lock:
            return tuple(self._rules.log)


# -- seeding ----------------------------------------------------------------------------------


def _member_ids(members: int) -> tuple[str, ...]:
    return tuple(f"{210000000000 + i:012d}" for i in range(1, members + 1))


def _org_data_policy(account: str, org_id: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "KeyAdministration",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                },
                {
                    "Sid": "UseByTheOrganization",
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Action": [
                        "kms:Encrypt",
                        "kms:Decrypt",
                        "kms:ReEncrypt*",
                        "kms:GenerateDataKey*",
                        "kms:DescribeKey",
                        "kms:CreateGrant",
                    ],
                    "Resource": "*",
                    "Condition": {"StringEquals": {"aws:PrincipalOrgID": org_id}},
                },
            ],
        }
    )


def _account_policy(account: str, *extra: str) -> str:
    principals = [f"arn:aws:iam::{a}:root" for a in (account, *extra)]
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "KeyAdministration",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                },
                {
                    "Sid": "KeyUse",
                    "Effect": "Allow",
                    "Principal": {"AWS": principals[1:] or principals[0]},
                    "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey*"],
                    "Resource": "*",
                },
            ],
        }
    )


_KEY_TAGS = [
    {"TagKey": "owner", "TagValue": "security"},
    {"TagKey": "application", "TagValue": "platform"},
    {"TagKey": "data-sensitivity", "TagValue": "confidential"},
    {"TagKey": "cost-center", "TagValue": "cc-100"},
]


class _Seeder:
    """Writes the organisation's estate through moto's backends and records its truth."""

    def __init__(self, org_id: str, key_account: str, regions: tuple[str, ...]) -> None:
        self.org_id = org_id
        self.key_account = key_account
        self.regions = regions
        self.resources: dict[ResourceArn, ExpectedResource] = {}
        self.keys: dict[KeyArn, ExpectedKey] = {}
        self.central: dict[tuple[str, str], KeyArn] = {}  # (region, name) -> key ARN
        self.outside: set[KeyArn] = set()

    def key(self, account: str, region: str, name: str, policy: str) -> KeyArn:
        kms = DirectKms(account, region)
        created = kms.create_key(Policy=policy, Description=name, Tags=_KEY_TAGS)
        arn = KeyArn(created["KeyMetadata"]["Arn"])
        kms.create_alias(AliasName=f"alias/{name}", TargetKeyId=created["KeyMetadata"]["KeyId"])
        kms.enable_key_rotation(KeyId=created["KeyMetadata"]["KeyId"])
        tags = {t["TagKey"]: t["TagValue"] for t in _KEY_TAGS}
        self.keys[arn] = ExpectedKey(
            arn, AccountId(account), Region(region), "CUSTOMER", "Enabled",
            rotation_enabled=True, rotation_period_days=365, aliases=(f"alias/{name}",),
            tags=tags, description=name,
        )  # fmt: skip
        return arn

    def _expect(
        self,
        arn: str,
        rtype: ResourceTypeName,
        account: str,
        region: str,
        name: str,
        key_arn: str | None,
    ) -> None:
        if key_arn is None:
            key_class = KeyClass.UNENCRYPTED
        elif key_arn in self.keys and self.keys[KeyArn(key_arn)].manager == "AWS":
            key_class = KeyClass.AWS_MANAGED
        elif key_arn.split(":")[4] != account:
            key_class = KeyClass.CROSS_ACCOUNT
        else:
            key_class = KeyClass.CUSTOMER_MANAGED
        problems = {
            KeyClass.AWS_MANAGED: {"aws-managed-key"},
            KeyClass.CROSS_ACCOUNT: {"cross-account-key"},
            KeyClass.UNENCRYPTED: {"unencrypted"},
        }.get(key_class, set())
        self.resources[ResourceArn(arn)] = ExpectedResource(
            ResourceArn(arn), rtype, AccountId(account), Region(region), key_class,
            KeyArn(key_arn) if key_arn else None, name=name, problems=problems,
        )  # fmt: skip

    def aws_managed(self, account: str, region: str, alias: str) -> KeyArn:
        arn = _moto.find_aws_managed_key_arn(account, region, alias)
        if arn is None:
            raise RuntimeError(f"{alias} was not created in {account}/{region}")
        key = KeyArn(arn)
        self.keys.setdefault(
            key,
            ExpectedKey(
                key, AccountId(account), Region(region), "AWS", "Enabled",
                rotation_enabled=True, rotation_period_days=365, aliases=(alias,),
            ),
        )  # fmt: skip
        return key

    def database(self, account: str, region: str, name: str, key: str | None) -> None:
        rds = DirectRds(account, region)
        params: dict[str, Any] = {
            "DBInstanceIdentifier": name,
            "DBInstanceClass": "db.t3.micro",
            "Engine": "postgres",
            "AllocatedStorage": 20,
            "MasterUsername": "app",
            "MasterUserPassword": _DB_PASSWORD,
            "StorageEncrypted": True,
            "BackupRetentionPeriod": 0,
        }
        if key is not None:
            params["KmsKeyId"] = key
        created = rds.create_db_instance(**params)
        key_arn = key if key is not None else self.aws_managed(account, region, "alias/aws/rds")
        arn = created["DBInstance"]["DBInstanceArn"]
        self._expect(arn, _DB, account, region, name, key_arn)
        # moto takes an automated snapshot whatever the retention: it is part of the estate.
        for snap in rds.automated_snapshots()[0]:
            if snap["DBInstanceIdentifier"] == name:
                snapshot = snap["DBSnapshotArn"]
                self._expect(
                    snapshot, _SNAPSHOT, account, region, snap["DBSnapshotIdentifier"], key_arn
                )

    def secret(self, account: str, region: str, name: str, key: str | None) -> None:
        params: dict[str, Any] = {"Name": name, "SecretString": _SECRET_VALUE}
        if key is not None:
            params["KmsKeyId"] = key
        created = DirectSecretsManager(account, region).create_secret(**params)
        if key is None:
            key_arn: str = self.aws_managed(account, region, "alias/aws/secretsmanager")
        else:
            key_arn = key
        self._expect(created["ARN"], _SECRET, account, region, name, key_arn)

    def key_account_estate(self) -> None:
        for region in self.regions:
            account = self.key_account
            org_key = self.key(account, region, "org-data", _org_data_policy(account, self.org_id))
            partner = self.key(
                account, region, "partner-share", _account_policy(account, OUTSIDE_ACCOUNT)
            )
            self.keys[partner] = attrs.evolve(
                self.keys[partner], problems=frozenset({"cross-account-access"})
            )
            self.central[(region, "org-data")] = org_key
            self.outside.add(partner)
            self.secret(account, region, "security/partner-feed", partner)
            self.database(account, region, "security-ledger", org_key)

    def member_estate(self, account: str, index: int) -> None:
        for region in self.regions:
            own = self.key(account, region, "app", _account_policy(account))
            central = self.central[(region, "org-data")]
            self.database(account, region, f"orders-{index}", central)
            self.database(account, region, f"legacy-{index}", None)
            self.secret(account, region, f"app-{index}/central", central)
            self.secret(account, region, f"app-{index}/own", own)
            self.secret(account, region, f"app-{index}/default", None)

    def management_estate(self, account: str) -> None:
        for region in self.regions:
            self.secret(account, region, "management/break-glass", None)

    def dependents(self) -> dict[KeyArn, frozenset[ResourceArn]]:
        out: dict[KeyArn, set[ResourceArn]] = {
            k: set() for k, v in self.keys.items() if v.account == self.key_account
        }
        for r in self.resources.values():
            if r.key_arn in out:
                out[r.key_arn].add(r.arn)
        return {k: frozenset(v) for k, v in out.items()}


def seed_organization(
    aws: EmulatedAWS,
    *,
    members: int = 6,
    regions: Iterable[str] = ("eu-west-1", "us-east-1"),
    external_id: str = "cmkguard-emulated",
    empty_pages: bool = True,
) -> EmulatedOrganization:
    """Make the running emulator an organisation (layout in the module docstring).

    Args:
        aws: A running emulator; its primary account becomes the management account.
            Emulated accounts are added as needed (the key account `444455556666` and
            members `210000000001`...).
        members: Member accounts besides the key account (at least 3: one is suspended,
            one has no roles).
        regions: Where each account's estate is seeded.
        external_id: The `ExternalId` the `CmkGuardAudit` roles require.
        empty_pages: Whether `ListAccounts` returns an empty page before each page.

    Returns:
        The `EmulatedOrganization`, with its `OrgTruth`.
    """
    if members < 3:
        raise ConfigurationError(f"members must be at least 3, not {members}")
    region_list = tuple(regions)
    if not region_list:
        raise ConfigurationError("regions is empty: name at least one region")
    management = aws.primary_account
    if management == KEY_ACCOUNT:
        raise ConfigurationError(f"the primary account cannot be the key account {KEY_ACCOUNT}")
    member_ids = _member_ids(members)
    aws.add_accounts([KEY_ACCOUNT, *member_ids])
    org_id = "o-cmkguard" + management[-6:]
    root_id = "r-" + management[-4:]
    _org_moto.forget_organizations()
    _org_moto.create_organization(management, org_id, root_id)
    ou_ids: dict[tuple[str, ...], str] = {(): root_id}
    for path in (("Security",), *_MEMBER_OUS):
        for depth in range(1, len(path) + 1):
            if path[:depth] not in ou_ids:
                ou_id = f"ou-{root_id[2:]}-{len(ou_ids):08d}"
                _org_moto.create_ou(management, ou_ids[path[: depth - 1]], path[depth - 1], ou_id)
                ou_ids[path[:depth]] = ou_id
    accounts: dict[AccountId, ExpectedAccount] = {
        AccountId(management): ExpectedAccount(AccountId(management), "management", ())
    }
    layout: list[tuple[str, str, tuple[str, ...]]] = [(KEY_ACCOUNT, "security-keys", ("Security",))]
    layout += [
        (acc, f"workload-{i + 1}", _MEMBER_OUS[i % len(_MEMBER_OUS)])
        for i, acc in enumerate(member_ids)
    ]
    for index, (account, name, path) in enumerate(layout):
        _org_moto.create_account(management, account, name, ou_ids[path], index, MEMBER_ROLE)
        accounts[AccountId(account)] = ExpectedAccount(AccountId(account), name, path)
    hub_arn = f"arn:aws:iam::{KEY_ACCOUNT}:role/{HUB_ROLE}"
    _org_moto.create_role(KEY_ACCOUNT, HUB_ROLE, _trust([f"arn:aws:iam::{management}:root"]))
    _org_moto.register_delegated_admin(management, KEY_ACCOUNT, _DELEGATED_SERVICE)
    for account, _, _ in layout:
        _org_moto.create_role(account, AUDIT_ROLE, _trust([hub_arn], external_id))
        _org_moto.create_role(account, _EMULATOR_ROLE, _trust([f"arn:aws:iam::{management}:root"]))
    seeder = _Seeder(org_id, KEY_ACCOUNT, region_list)
    unassumable, suspended = member_ids[1], member_ids[-1]
    with _org_moto.without_default_amis():
        seeder.key_account_estate()
        seeder.management_estate(management)
        for index, account in enumerate(member_ids, start=1):
            if account != suspended:
                seeder.member_estate(account, index)
    for role in (MEMBER_ROLE, AUDIT_ROLE):
        _org_moto.delete_role(unassumable, role)
    accounts[AccountId(unassumable)] = attrs.evolve(
        accounts[AccountId(unassumable)], assumable=False
    )
    _org_moto.close_account(management, suspended)
    accounts[AccountId(suspended)] = attrs.evolve(
        accounts[AccountId(suspended)], status="SUSPENDED"
    )
    rules = _OrgRules(management, empty_pages)
    aws._require_middleware().hooks["organization"] = rules
    truth = OrgTruth(
        org_id=org_id,
        management_account=AccountId(management),
        key_account=AccountId(KEY_ACCOUNT),
        external_id=external_id,
        accounts=accounts,
        estate=GroundTruth(
            resources=seeder.resources,
            keys=seeder.keys,
            accounts=tuple(accounts),
            regions=tuple(Region(r) for r in region_list),
        ),
        shared_key_dependents=seeder.dependents(),
        outside_shared_keys=frozenset(seeder.outside),
        regions=tuple(Region(r) for r in region_list),
    )
    return EmulatedOrganization(aws, truth, rules)
