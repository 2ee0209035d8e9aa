"""Crypto-shredding readiness: can each tenant's data be destroyed by deleting one key?

Runs only when the policy names a tenant tag (`AuditPolicy.tenant_tag`, `audit(...,
tenant_tag=...)`, `cmkguard audit --tenant-tag`). Resources without that tag are not a tenant's.
"""

from __future__ import annotations

from collections.abc import Iterator

from cmkguard.auditing.context import AuditContext
from cmkguard.auditing.finding import Finding
from cmkguard.inventory.values import EncryptedResource, KeyClass
from cmkguard.types import KeyArn

__all__ = ["check_tenant_keys"]

# Keys a customer cannot schedule for deletion: data on them can never be crypto-shredded.
_NEVER_SHREDDABLE = {KeyClass.AWS_MANAGED: "AWS managed", KeyClass.AWS_OWNED: "AWS owned"}


def _tenant(resource: EncryptedResource, tag: str) -> str | None:
    wanted = tag.lower()
    for k, v in resource.tags.items():
        if k.lower() == wanted and v.strip():
            return v.strip()
    return None


def check_tenant_keys(ctx: AuditContext) -> Iterator[Finding]:
    """Tenants on keys they cannot delete, and keys shared by several tenants."""
    tag = ctx.policy.tenant_tag
    if not tag:
        return
    tenants: dict[str, list[EncryptedResource]] = {}
    for r in ctx.inventory.resources:
        tenant = _tenant(r, tag)
        if tenant is not None:
            tenants.setdefault(tenant, []).append(r)
    for tenant, resources in sorted(tenants.items()):
        stuck = sorted(
            (r for r in resources if r.key_class in _NEVER_SHREDDABLE), key=lambda r: r.arn
        )
        if stuck:
            kinds = sorted({_NEVER_SHREDDABLE[r.key_class] for r in stuck})
            yield ctx.finding(
                "tenant-key-not-shreddable",
                f"Tenant {tenant!r} ({tag}={tenant}) has {len(stuck)} resource(s) on "
                f"{' and '.join(kinds)} keys, which cannot be deleted: its data cannot be "
                "crypto-shredded.",
                account=stuck[0].account,
                region=stuck[0].region,
                resource_type=stuck[0].resource_type,
                evidence={"tenant": tenant, "resources": [r.arn for r in stuck]},
                discriminator=tenant,
            )
    by_key: dict[KeyArn, dict[str, list[str]]] = {}
    for tenant, resources in tenants.items():
        for r in resources:
            if r.key_arn and r.key_class not in _NEVER_SHREDDABLE:
                by_key.setdefault(r.key_arn, {}).setdefault(tenant, []).append(r.arn)
    for key_arn, users in sorted(by_key.items()):
        if len(users) >= 2:
            key = ctx.inventory.keys.get(key_arn)
            yield ctx.finding(
                "tenant-key-shared",
                f"Key {key_arn} encrypts data of {len(users)} tenants ({', '.join(sorted(users))}):"
                " deleting it to shred one tenant would destroy the others' data.",
                key=key,
                key_arn=key_arn,
                evidence={"tenants": {t: sorted(a) for t, a in sorted(users.items())}},
            )
