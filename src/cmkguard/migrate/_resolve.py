"""Resource references -> inventory ARNs, as the Secrets Manager console resolves them (pure).

A secret's ARN ends in `-` and six random characters that nobody remembers; AWS accepts the
*partial* ARN (without them) and the secret's name wherever it takes a `SecretId`. The planner
accepts them too, resolved against the inventory so the plan names the full ARN. A reference
that matches several secrets (the same name in two regions, a partial ARN that is also another
secret's name) is refused with the candidates, never guessed.
"""

from __future__ import annotations

import re

from cmkguard.arn import parse_arn
from cmkguard.inventory.values import Inventory

__all__ = ["resolve_reference"]

_SUFFIX = re.compile(r"-[A-Za-z0-9]{6}$")
"""The random suffix Secrets Manager appends to a secret's ARN."""


def resolve_reference(inventory: Inventory, reference: str) -> tuple[str, str | None, str]:
    """`(arn, None, "")` for the inventory resource `reference` names, else `(reference, check,
    why)`: the pre-flight check that fails (`resource-ambiguous`, `resource-in-inventory` for an
    ARN, `resource-arn` for anything else) and why.

    `reference` is a resource ARN, a partial secret ARN (without the random suffix) or a
    secret's name (in any scanned account and region: ambiguous if in several).
    """
    try:
        inventory.resource(reference)
    except KeyError:
        pass
    else:
        return reference, None, ""
    candidates = _secret_candidates(inventory, reference)
    if len(candidates) == 1:
        return candidates[0], None, ""
    if candidates:
        listed = ", ".join(candidates)
        why = f"{reference!r} matches {len(candidates)} secrets ({listed}): give the full ARN"
        return reference, "resource-ambiguous", why
    if reference.startswith("arn:"):
        return reference, "resource-in-inventory", "resource is not in the inventory"
    why = f"{reference!r} is not an ARN, and no scanned secret has that name"
    return reference, "resource-arn", why


def _secret_candidates(inventory: Inventory, reference: str) -> list[str]:
    secrets = [
        r for r in inventory.resources if ":secretsmanager:" in r.arn and ":secret:" in r.arn
    ]
    if reference.startswith("arn:"):
        try:
            parsed = parse_arn(reference)
        except ValueError:
            return []
        if parsed.service != "secretsmanager":
            return []
        # A partial ARN: the full one minus its suffix (and the suffix is there to take off).
        return sorted(
            r.arn for r in secrets if _SUFFIX.search(r.arn) and _SUFFIX.sub("", r.arn) == reference
        )
    return sorted(r.arn for r in secrets if r.name == reference)
