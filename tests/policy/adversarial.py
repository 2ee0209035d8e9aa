"""Adversarial key policies: the pathological families of issue 9, in one place.

`benchmarks/policy.py` times them (`--adversarial-only`) and `tests/policy/test_bound.py`
checks the analysis bound on them, so the benchmark and the tests exercise the same inputs.
Every policy here is valid (KMS would accept it) and at most 32 KB, the key-policy size limit.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

__all__ = [
    "KEY_ACCOUNT",
    "KMS_LIMIT",
    "adversarial_policies",
    "glob_families",
    "largest",
    "slow_families",
    "wildcard_heavy",
]

KEY_ACCOUNT = "111122223333"
KMS_LIMIT = 32 * 1024
"""The key-policy size limit (bytes of the policy text)."""

_ALLOW = {"Effect": "Allow", "Principal": "*", "Resource": "*"}
_DENY = {"Effect": "Deny", "Principal": "*", "Resource": "*"}


def wildcard_heavy(n: int) -> dict[str, Any]:
    """`n` statements: Allows to `"*"` and account role globs pinned by ARN patterns and
    kms:CallerAccount, with a conditional Deny (org, ArnLike, userid) every third statement."""
    deny_conditions = (
        lambda i: {"StringNotEqualsIfExists": {"aws:PrincipalOrgID": f"o-abcdefgh{i:04d}"}},
        lambda i: {"StringLike": {"aws:PrincipalArn": f"arn:aws:iam::*:role/*adm*{i}*"}},
        lambda i: {"StringNotLike": {"aws:userid": [f"AROA*{i}*:*", "AIDA*"]}},
    )
    statements: list[dict[str, Any]] = []
    for i in range(n):
        if i % 3 == 2:
            statements.append(
                {
                    **_DENY,
                    "Sid": f"D{i}",
                    "Action": [f"kms:*{'crypt' if i % 2 else 'Key'}*", "kms:Re*"],
                    "Condition": deny_conditions[i % 3](i),
                }
            )
            continue
        other = f"{(i * 7919) % 10**12:012d}"
        statements.append(
            {
                "Sid": f"A{i}",
                "Effect": "Allow",
                "Principal": {"AWS": [f"arn:aws:iam::{other}:role/*ops*", "*"]},
                "Action": ["kms:*crypt*", "kms:Generate*", "kms:*Grant*", "kms:Describe*"],
                "Resource": "*",
                "Condition": {
                    "StringLike": {
                        "aws:PrincipalArn": [
                            f"arn:aws:iam::*:role/*team{i}*",
                            f"arn:aws:iam::{KEY_ACCOUNT}:*",
                        ]
                    },
                    "StringEquals": {
                        "kms:CallerAccount": [KEY_ACCOUNT, f"{(i * 31) % 10**12:012d}"]
                    },
                },
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def negated_caps(n: int) -> dict[str, Any]:
    """One Allow to `"*"` and `n` Denies, each a negated cap on a different key pattern
    (ANDed caps: what survives is the union of what each lets through)."""
    statements: list[dict[str, Any]] = [{**_ALLOW, "Action": "kms:*"}]
    for i in range(n):
        statements.append(
            {
                **_DENY,
                "Action": "kms:*",
                "Condition": {
                    "StringNotLike": {
                        "aws:PrincipalArn": [f"arn:aws:iam::*:role/*{i}*x*", f"*:{i:012d}:*"]
                    },
                    "StringNotEqualsIfExists": {"aws:PrincipalOrgID": f"o-cap{i:08d}"},
                },
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def many_accounts(n: int) -> dict[str, Any]:
    """`n` Allows, each to one other account's root, pinned by kms:CallerAccount."""
    statements = []
    for i in range(n):
        account = f"{200000000000 + i * 7:012d}"
        statements.append(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": ["kms:Decrypt", "kms:DescribeKey"],
                "Resource": "*",
                "Condition": {"StringEquals": {"kms:CallerAccount": account}},
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def colon_spanning(n: int) -> dict[str, Any]:
    """An Allow to `"*"` whose StringLike ARN patterns span `:` (`*:<account>:*`), against
    `n` Denies of other colon-spanning patterns."""
    allow = {
        **_ALLOW,
        "Action": "kms:*",
        "Condition": {"StringLike": {"aws:PrincipalArn": [f"*:{KEY_ACCOUNT}:*", "*:role/*:*"]}},
    }
    denies = [
        {
            **_DENY,
            "Action": "kms:*",
            "Condition": {"StringLike": {"aws:PrincipalArn": f"arn:*:*{i}*:*:*/*{i}?*"}},
        }
        for i in range(n)
    ]
    return {"Version": "2012-10-17", "Statement": [allow, *denies]}


def long_arn_patterns(n: int) -> dict[str, Any]:
    """`n` Allows to `"*"`, each pinned by one long `StringLike aws:PrincipalArn` pattern of
    many `*` and `?`, and as many Denies of other long patterns."""
    statements: list[dict[str, Any]] = []
    for i in range(n):
        glob = "*?x" * 12 + f"{i}" + "?*" * 6
        statements.append(
            {
                **_ALLOW,
                "Action": "kms:Decrypt",
                "Condition": {"StringLike": {"aws:PrincipalArn": f"arn:aws:iam::*:role/{glob}"}},
            }
        )
        statements.append(
            {
                **_DENY,
                "Action": "kms:*",
                "Condition": {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/" + "?*y" * 14}},
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def many_condition_keys(n: int) -> dict[str, Any]:
    """One Allow to `"*"` needing `n` distinct tag keys to match wildcard values, and one Deny
    on `n` other tag keys."""
    allow = {
        **_ALLOW,
        "Action": "kms:*",
        "Condition": {"StringLike": {f"aws:PrincipalTag/a{i}": f"*v{i}*" for i in range(n)}},
    }
    deny = {
        **_DENY,
        "Action": "kms:*",
        "Condition": {"StringNotLike": {f"aws:PrincipalTag/d{i}": f"?*w{i}" for i in range(n)}},
    }
    return {"Version": "2012-10-17", "Statement": [allow, deny]}


def deep_foranyvalue(n: int) -> dict[str, Any]:
    """An Allow to `"*"` needing one of `n` org paths, and a Deny for callers none of whose
    paths match `n` other patterns (ForAnyValue lists as long as the size limit allows)."""
    allow = {
        **_ALLOW,
        "Action": "kms:*",
        "Condition": {
            "ForAnyValue:StringLike": {
                "aws:PrincipalOrgPaths": [f"o-abcdefghij/r-ab12/ou-*{i}*/" for i in range(n)]
            }
        },
    }
    deny = {
        **_DENY,
        "Action": "kms:*",
        "Condition": {
            "ForAllValues:StringNotLike": {
                "aws:PrincipalOrgPaths": [f"o-abcdefghij/*/ou-?{i}*" for i in range(n)]
            }
        },
    }
    return {"Version": "2012-10-17", "Statement": [allow, deny]}


def huge_notprincipal(n: int) -> dict[str, Any]:
    """An Allow to `"*"` and a Deny to everyone except `n` roles of `n` accounts
    (`NotPrincipal`), plus an Allow to everyone except another `n` roles."""
    exempt = [f"arn:aws:iam::{300000000000 + i:012d}:role/r{i}" for i in range(n)]
    others = [f"arn:aws:iam::{400000000000 + i:012d}:role/q{i}" for i in range(n)]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {**_ALLOW, "Action": "kms:Decrypt"},
            {
                "Effect": "Deny",
                "NotPrincipal": {"AWS": exempt},
                "Action": "kms:Decrypt",
                "Resource": "*",
            },
            {
                "Effect": "Allow",
                "NotPrincipal": {"AWS": others},
                "Action": "kms:Encrypt",
                "Resource": "*",
            },
        ],
    }


def policy_variables(n: int) -> dict[str, Any]:
    """`n` Allows to `"*"` whose conditions are made of policy variables (`${...}`), escapes
    included, against a Deny of variable patterns."""
    statements: list[dict[str, Any]] = [
        {
            **_DENY,
            "Action": "kms:*",
            "Condition": {
                "StringNotLike": {
                    "aws:PrincipalArn": "arn:${aws:PartitionX}:iam::${aws:PrincipalAccount}:*"
                },
                "StringNotEquals": {"kms:CallerAccount": "${aws:ResourceAccount}"},
            },
        }
    ]
    for i in range(n):
        statements.append(
            {
                **_ALLOW,
                "Action": "kms:Decrypt",
                "Condition": {
                    "StringLike": {
                        "aws:PrincipalArn": (
                            f"arn:aws:iam::${{aws:PrincipalAccount}}:role/${{*}}{i}*"
                            "${aws:username}${?}${$}"
                        ),
                        "aws:userid": f"${{aws:userid}}*{i}",
                    },
                    "StringEquals": {
                        "kms:CallerAccount": ["${aws:PrincipalAccount}", f"${{x{i}}}"]
                    },
                },
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def many_notprincipal_denies(n: int) -> dict[str, Any]:
    """An Allow to `"*"` and `n` Denies, each exempting (`NotPrincipal`) a different role of a
    different account, every other one conditional (only the unconditional ones close the
    key to everybody but their exempt role)."""
    statements: list[dict[str, Any]] = [{**_ALLOW, "Action": "kms:*"}]
    for i in range(n):
        deny: dict[str, Any] = {
            "Effect": "Deny",
            "NotPrincipal": {"AWS": f"arn:aws:iam::{500000000000 + i:012d}:role/n{i}"},
            "Action": ["kms:Decrypt", f"kms:*{'Key' if i % 2 else 'crypt'}*"],
            "Resource": "*",
        }
        if i % 2:
            deny["Condition"] = {"StringNotLike": {"aws:PrincipalArn": f"*:role/*{i}*"}}
        statements.append(deny)
    return {"Version": "2012-10-17", "Statement": statements}


def long_value_lists(n: int) -> dict[str, Any]:
    """One Allow to `"*"` with one condition per operator family, each of `n` values (string
    literals and wildcards, ARNs, numbers, dates, IP ranges), and a Deny of as many negated
    values: the condition lists as long as the size limit allows."""
    allow = {
        **_ALLOW,
        "Action": "kms:*",
        "Condition": {
            "StringEquals": {"aws:PrincipalOrgID": [f"o-lit{i:07d}" for i in range(n)]},
            "StringLike": {"aws:PrincipalTag/team": [f"t{i}*" for i in range(n)]},
            "ArnLike": {"aws:PrincipalArn": [f"arn:aws:iam::*:role/r{i}*" for i in range(n)]},
            "NumericLessThan": {"aws:MultiFactorAuthAge": [str(i * 7) for i in range(n)]},
            "DateGreaterThan": {"aws:CurrentTime": [f"20{i % 90 + 10}-01-01" for i in range(n)]},
            "IpAddress": {"aws:SourceIp": [f"10.{i % 256}.{i // 256}.0/24" for i in range(n)]},
        },
    }
    deny = {
        **_DENY,
        "Action": "kms:*",
        "Condition": {
            "StringNotEqualsIgnoreCase": {"aws:PrincipalTag/env": [f"E{i}" for i in range(n)]},
            "ArnNotLike": {"aws:PrincipalArn": [f"arn:aws:iam::*:role/r{i}?" for i in range(n)]},
        },
    }
    return {"Version": "2012-10-17", "Statement": [allow, deny]}


def wildcard_deny_caps(n: int) -> dict[str, Any]:
    """One Allow to `"*"` and `n` Denies of wildcard actions, each an `IfExists` negated cap
    with wildcard values on a different key (account, org path, ARN, tag)."""
    keys = (
        ("StringNotLikeIfExists", "aws:PrincipalOrgPaths", lambda i: f"o-*/r-{i}*/*"),
        ("StringNotLike", "kms:CallerAccount", lambda i: f"{i % 10}*{i % 7}"),
        ("ArnNotLikeIfExists", "aws:PrincipalArn", lambda i: f"arn:aws:iam::*:role/*c{i}*"),
        ("StringNotLike", "aws:PrincipalTag/cap", lambda i: f"*{i}?*"),
    )
    statements: list[dict[str, Any]] = [{**_ALLOW, "Action": "kms:*"}]
    for i in range(n):
        op, key, value = keys[i % len(keys)]
        statements.append(
            {
                **_DENY,
                "Action": [f"kms:*{'crypt' if i % 3 else 'Grant'}*", "kms:Re*"],
                "Condition": {op: {key: [value(i), value(i + 1)]}},
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def largest(family: Callable[[int], dict[str, Any]]) -> dict[str, Any]:
    """The largest member of `family` within the 32 KB key-policy limit."""
    n = 1
    while len(json.dumps(family(n + 1))) <= KMS_LIMIT:
        n += 1
    return family(n)


def _stars(n: int) -> str:
    return "kms:" + "*" * n + "x"


def glob_families() -> list[tuple[str, dict[str, Any]]]:
    """12-star globs wherever a pattern reaches the matcher, and a statement of many conditions."""
    arn_glob = "arn:aws:iam::" + "*" * 12 + ":role/" + "*a" * 6 + "x"
    many = {
        "StringLike": {f"aws:PrincipalTag/t{i}": "*" * 6 + f"v{i}" for i in range(40)},
        "ArnLike": {"aws:PrincipalArn": arn_glob},
        "StringNotEquals": {"aws:PrincipalOrgID": [f"o-{i:010d}abc" for i in range(20)]},
    }
    return [
        ("12-star Action", {"Statement": [{**_ALLOW, "Action": _stars(12)}]}),
        ("12-star NotAction", {"Statement": [{**_ALLOW, "NotAction": _stars(12)}]}),
        (
            "12-star Deny action",
            {"Statement": [{**_ALLOW, "Action": "kms:*"}, {**_DENY, "Action": _stars(12)}]},
        ),
        (
            "12-star ArnLike",
            {
                "Statement": [
                    {
                        **_ALLOW,
                        "Action": "kms:*",
                        "Condition": {"ArnLike": {"aws:PrincipalArn": arn_glob}},
                    }
                ]
            },
        ),
        ("many conditions", {"Statement": [{**_ALLOW, "Action": "kms:*", "Condition": many}]}),
        (
            "refused: 32 KB service principal",
            {
                "Statement": [
                    {**_ALLOW, "Principal": {"Service": "a." * 16_000 + "!"}, "Action": "kms:*"}
                ]
            },
        ),
    ]


def adversarial_policies() -> list[tuple[str, dict[str, Any]]]:
    """Every family, named: the wildcard-heavy one at 2-32 statements and at 32 KB, the other
    families at 32 KB, and the 12-star globs."""
    rows = [(f"wildcard-heavy, {n} statements", wildcard_heavy(n)) for n in (2, 4, 8, 16, 32)]
    for name, family in (
        ("wildcard-heavy", wildcard_heavy),
        ("negated Deny caps", negated_caps),
        ("many accounts", many_accounts),
        ("colon-spanning ARN patterns", colon_spanning),
        ("long ARN patterns", long_arn_patterns),
        ("many condition keys", many_condition_keys),
        ("deep ForAnyValue lists", deep_foranyvalue),
        ("huge NotPrincipal lists", huge_notprincipal),
        ("policy variables", policy_variables),
    ):
        doc = largest(family)
        rows.append((f"{name}, 32 KB ({len(doc['Statement'])} statements)", doc))
    rows.extend(glob_families())
    return rows


def slow_families() -> list[tuple[str, dict[str, Any]]]:
    """Families added by the last speed work that still take far more than 100 ms (seconds for
    the first two): timed by the benchmark only, so the suite does not pay for them; they move
    into `adversarial_policies` once fast."""
    return [
        (f"{name}, 32 KB ({len(doc['Statement'])} statements)", doc)
        for name, doc in (
            (name, largest(family))
            for name, family in (
                ("many NotPrincipal Denies", many_notprincipal_denies),
                ("long value lists", long_value_lists),
                ("wildcard Deny caps", wildcard_deny_caps),
            )
        )
    ]
