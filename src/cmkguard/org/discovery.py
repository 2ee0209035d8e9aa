"""Pure discovery logic: the way into each account and the include/exclude filters.

No AWS calls here: `cmkguard.org.aws_discovery` reads the organisation, these functions
decide what a scan covers and how it gets in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import attrs

from cmkguard.arn import is_account_id, parse_arn
from cmkguard.errors import ConfigurationError
from cmkguard.org.model import AccountTarget, OrgAccount
from cmkguard.types import AccountId

__all__ = [
    "DEFAULT_ROLE_NAME",
    "DEFAULT_ROLE_TEMPLATE",
    "AccountFilter",
    "RoleTemplate",
    "select",
]

DEFAULT_ROLE_NAME = "OrganizationAccountAccessRole"
"""The role AWS Organizations creates in every account it creates."""
DEFAULT_ROLE_TEMPLATE = "arn:aws:iam::{account}:role/{role_name}"
"""Where the member role of `{account}` is."""

_ROLE_NAME_RE = re.compile(r"^[\w+=,.@-]{1,64}$")
_OU_ID_RE = re.compile(r"^(ou-[0-9a-z]{4,32}-[0-9a-z]{8,32}|r-[0-9a-z]{4,32})$")
_EXTERNAL_ID_RE = re.compile(r"^[\w+=,.@:/-]{2,1224}$")


def _account_ids(values: Iterable[str] | None, what: str) -> frozenset[str] | None:
    if values is None:
        return None
    if isinstance(values, str):
        raise ConfigurationError(
            f"{what}: expected a list of account ids, not the string {values!r}"
        )
    ids = frozenset(values)
    bad = sorted(v for v in ids if not (isinstance(v, str) and is_account_id(v)))
    if bad:
        raise ConfigurationError(f"{what}: not a 12-digit account id: {bad[0]!r}")
    return ids


def _ous(values: Iterable[str] | None, what: str) -> tuple[str, ...] | None:
    if values is None:
        return None
    if isinstance(values, str):
        raise ConfigurationError(f"{what}: expected a list of OUs, not the string {values!r}")
    out = tuple(values)
    for v in out:
        if not isinstance(v, str) or not v.strip("/"):
            raise ConfigurationError(f"{what}: an OU is an id (ou-...) or a path, not {v!r}")
    return out


@attrs.frozen
class AccountFilter:
    """Which accounts a scan covers.

    `accounts`: only these ids (`None`: all); `exclude_accounts`: never these. `ous`:
    only accounts under one of these OUs, at any depth (an OU id `ou-...`, the root id
    `r-...`, or a path of names from the root such as `Workloads/Prod`; a single name
    matches an OU of that name anywhere); `exclude_ous`: never accounts under these.
    """

    accounts: frozenset[str] | None = None
    exclude_accounts: frozenset[str] = frozenset()
    ous: tuple[str, ...] | None = None
    exclude_ous: tuple[str, ...] = ()

    @classmethod
    def build(
        cls,
        accounts: Iterable[str] | None = None,
        exclude_accounts: Iterable[str] = (),
        ous: Iterable[str] | None = None,
        exclude_ous: Iterable[str] = (),
    ) -> AccountFilter:
        """A filter from user input, checked (`ConfigurationError` names the bad value)."""
        return cls(
            accounts=_account_ids(accounts, "accounts"),
            exclude_accounts=_account_ids(exclude_accounts, "exclude_accounts") or frozenset(),
            ous=_ous(ous, "ous"),
            exclude_ous=_ous(exclude_ous, "exclude_ous") or (),
        )

    def unknown_ous(self, listed: Sequence[OrgAccount], root_id: str) -> list[str]:
        """The OUs named by the filter that match no account's ancestry (likely typos)."""
        return [
            ou
            for ou in (*(self.ous or ()), *self.exclude_ous)
            if ou != root_id and not any(_under(a, ou) for a in listed)
        ]

    def admits(self, account: OrgAccount, root_id: str) -> bool:
        """Whether `account` passes the filter."""
        if self.accounts is not None and account.id not in self.accounts:
            return False
        if account.id in self.exclude_accounts:
            return False
        if self.ous is not None and not any(
            ou == root_id or _under(account, ou) for ou in self.ous
        ):
            return False
        return not any(ou == root_id or _under(account, ou) for ou in self.exclude_ous)


def _under(account: OrgAccount, ou: str) -> bool:
    if _OU_ID_RE.match(ou):
        return ou in account.ou_ids
    path = tuple(p for p in ou.strip("/").split("/") if p)
    if len(path) == 1:
        return path[0] in account.ou_path
    return account.ou_path[: len(path)] == path


@attrs.frozen
class RoleTemplate:
    """How a scan gets into a member account.

    `template` is formatted with `{account}` and `{role_name}`; `role_chain` are roles
    to assume first (a hub role), in order; `external_id` goes with the member role.
    """

    role_name: str = DEFAULT_ROLE_NAME
    template: str = DEFAULT_ROLE_TEMPLATE
    external_id: str | None = attrs.field(default=None, repr=False)
    role_chain: tuple[str, ...] = ()

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.role_name, str) or not _ROLE_NAME_RE.match(self.role_name):
            raise ConfigurationError(f"role_name: not an IAM role name: {self.role_name!r}")
        if not isinstance(self.template, str) or "{account}" not in self.template:
            raise ConfigurationError(f"role template must contain {{account}}: {self.template!r}")
        try:
            sample = self.role_arn("123456789012")
            arn = parse_arn(sample)
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigurationError(f"role template {self.template!r}: {exc}") from None
        if arn.service != "iam" or not arn.resource.startswith("role/"):
            raise ConfigurationError(f"role template does not give a role ARN: {sample!r}")
        if self.external_id is not None and (
            not isinstance(self.external_id, str) or not _EXTERNAL_ID_RE.match(self.external_id)
        ):
            raise ConfigurationError(
                "external_id: 2-1224 characters of letters, digits and +=,.@:/-"
            )
        for hop in self.role_chain:
            try:
                hop_arn = parse_arn(hop)
            except (TypeError, ValueError):
                hop_arn = None
            if (
                hop_arn is None
                or hop_arn.service != "iam"
                or not hop_arn.resource.startswith("role/")
            ):
                raise ConfigurationError(f"role_chain: not a role ARN: {hop!r}")

    def role_arn(self, account: str) -> str:
        """The member role ARN of `account`."""
        return self.template.format(account=account, role_name=self.role_name)

    def target(self, account: str, *, own: bool) -> AccountTarget:
        """The way into `account`; `own`: with the caller's own credentials."""
        if own:
            return AccountTarget(AccountId(account))
        return AccountTarget(
            AccountId(account),
            (*self.role_chain, self.role_arn(account)),
            self.external_id,
        )


def select(
    listed: Sequence[OrgAccount], account_filter: AccountFilter, root_id: str
) -> tuple[AccountId, ...]:
    """The ids a scan covers: active accounts that pass the filter, in listing order."""
    return tuple(a.id for a in listed if a.active and account_filter.admits(a, root_id))
