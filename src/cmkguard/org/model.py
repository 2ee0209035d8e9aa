"""The values of an organisation scan: accounts, their way in, and per-account results.

Plain frozen values that pickle: an `AccountTarget` is what a worker (a thread, a
process, a Dask worker) needs to reach one account, and holds no credentials.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import attrs

from cmkguard.inventory.values import Inventory, ScanError
from cmkguard.types import AccountId

__all__ = ["AccountResult", "AccountTarget", "OrgAccount", "Organization"]

CallerRole = Literal["management", "delegated-administrator", "given"]


def _strs(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _accounts(value: Iterable[OrgAccount]) -> tuple[OrgAccount, ...]:
    return tuple(value)


@attrs.frozen
class AccountTarget:
    """How to get into one account: the roles to assume in order, no credentials.

    `role_arns` is the chain (a hub role first, the account's own role last); empty means
    "with the caller's own credentials" (the account the scan runs in, such as the management
    account, which has no member role). `external_id` goes with the last role.
    """

    account: AccountId
    role_arns: tuple[str, ...] = attrs.field(default=(), converter=_strs)
    external_id: str | None = attrs.field(default=None, repr=False)

    @property
    def uses_own_credentials(self) -> bool:
        """Whether the account is scanned with the caller's credentials (no role)."""
        return not self.role_arns

    def __str__(self) -> str:
        how = " -> ".join(self.role_arns) if self.role_arns else "own credentials"
        return f"{self.account} via {how}"


@attrs.frozen
class OrgAccount:
    """One account as AWS Organizations lists it, with its place in the OU tree.

    `ou_path` names the OUs from the root down (`("Workloads", "Prod")`; `()` directly
    under the root), `ou_ids` their ids. `status` is `ACTIVE`, `SUSPENDED` or
    `PENDING_CLOSURE`. `target` is how a scan gets in (`None` for accounts that are not
    active).
    """

    id: AccountId
    name: str
    email: str = ""
    status: str = "ACTIVE"
    ou_path: tuple[str, ...] = attrs.field(default=(), converter=_strs)
    ou_ids: tuple[str, ...] = attrs.field(default=(), converter=_strs)
    target: AccountTarget | None = None

    @property
    def active(self) -> bool:
        """Whether the account is `ACTIVE` (only active accounts are scanned)."""
        return self.status == "ACTIVE"

    @property
    def ou(self) -> str:
        """The OU path as text: `"Workloads/Prod"`, `"/"` for the root."""
        return "/".join(self.ou_path) or "/"


@attrs.frozen
class Organization:
    """An organisation as discovered by `organization_accounts`.

    `accounts` is every account Organizations listed (suspended ones included);
    `selected` the ids a scan covers (active and passing the include/exclude filters);
    `caller_account` and `caller_role` say where discovery ran from (the management
    account or a delegated administrator).
    """

    id: str
    management_account: AccountId
    caller_account: AccountId
    caller_role: CallerRole
    accounts: tuple[OrgAccount, ...] = attrs.field(default=(), converter=_accounts)
    selected: tuple[AccountId, ...] = attrs.field(default=(), converter=_strs)

    def account(self, account_id: str) -> OrgAccount:
        """The listed account `account_id`; `KeyError` if it is not in the organisation."""
        for acc in self.accounts:
            if acc.id == account_id:
                return acc
        raise KeyError(account_id)

    @property
    def account_ids(self) -> frozenset[str]:
        """Every account id of the organisation (suspended ones included)."""
        return frozenset(a.id for a in self.accounts)

    @property
    def suspended(self) -> tuple[OrgAccount, ...]:
        """Accounts that are not active (never scanned; reported)."""
        return tuple(a for a in self.accounts if not a.active)

    @property
    def targets(self) -> tuple[AccountTarget, ...]:
        """The way into every selected account, in listing order."""
        chosen = set(self.selected)
        return tuple(a.target for a in self.accounts if a.id in chosen and a.target is not None)

    def ou_of(self, account_id: str) -> str:
        """The OU path of `account_id` (`"?"` for an account not in the organisation)."""
        try:
            return self.account(account_id).ou
        except KeyError:
            return "?"


@attrs.frozen
class AccountResult:
    """What scanning one account gave: its inventory, or why it could not be read.

    `inventory` is always there: when the account could not be entered (AssumeRole denied,
    throttled...) it is empty except for the `ScanError` that says why, and `reached` is
    false. `attempt` counts the tries (1 for the first scan, 2 after one retry...).
    """

    target: AccountTarget
    inventory: Inventory
    reached: bool = True
    attempt: int = 1

    @property
    def account(self) -> AccountId:
        """The account scanned."""
        return self.target.account

    @property
    def errors(self) -> tuple[ScanError, ...]:
        """Everything that could not be read in this account."""
        return self.inventory.errors

    @property
    def complete(self) -> bool:
        """Whether the account was reached and everything in it was read."""
        return self.reached and not self.inventory.errors
