"""Shared AWS plumbing: access (credentials, clients, lifetime), retries, paging, errors.

The public name here is `AwsAccess` (with its picklable description `AccessSpec` and the
`RoleHop`s of a role chain): AWS access for one scan or one account, released
deterministically. The other modules are cmkguard's own plumbing: `session` (client
configuration, `EndpointSession`), `errormap`, `paging`, `regions`, `identity`.
"""

from cmkguard.aws.access import AccessSpec, AwsAccess, RoleHop

__all__ = ["AccessSpec", "AwsAccess", "RoleHop"]
