"""Grant analysis cost: a key's grants alone, and with its key policy's Deny statements.

Run: ``.venv/bin/python benchmarks/grants.py [--repeat N]``

For 1, 10 and 50 grants (mixed grantees, operations and Subset/Equals constraints, a third with
``CreateGrant``), the CPU time of one ``analyze_grants`` (best of ``--repeat``, every memo cleared
before each run): without a key policy, with a policy that has no Deny (nothing to override: no
extra work), and with an organisation-perimeter policy of three Deny statements (each grant
request is then decided by the key-policy analyser: one small policy per request). The last
column repeats the Deny case with the memos kept, as in a scan where many keys share a policy
and grants of the same shape.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import cmkguard
from cmkguard.policy.analysis import clear_memos

K = "111122223333"
ROOT = {
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{K}:root"},
    "Action": "kms:*",
    "Resource": "*",
}
DENIES = [
    {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "kms:*",
        "Resource": "*",
        "Condition": {"StringNotEqualsIfExists": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}},
    },
    {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "kms:Decrypt",
        "Resource": "*",
        "Condition": {"StringNotEquals": {"kms:EncryptionContext:env": "prod"}},
    },
    {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "kms:CreateGrant",
        "Resource": "*",
        "Condition": {"Bool": {"kms:GrantIsForAWSResource": "false"}},
    },
]
OPS = (["Decrypt", "Encrypt"], ["Decrypt", "CreateGrant"], ["GenerateDataKey", "DescribeKey"])


def grants(n: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        g: dict[str, Any] = {
            "GrantId": f"g{i}",
            "GranteePrincipal": f"arn:aws:iam::{444455556666 + i % 7}:role/R{i}",
            "Operations": OPS[i % 3],
        }
        if i % 2:
            kind = "EncryptionContextSubset" if i % 4 == 1 else "EncryptionContextEquals"
            g["Constraints"] = {kind: {"app": f"app{i}"}}
        out.append(g)
    return out


def cpu(fn: Any, repeat: int, *, fresh: bool = True) -> float:
    best = float("inf")
    for _ in range(repeat):
        if fresh:
            clear_memos()
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    no_deny = {"Version": "2012-10-17", "Statement": [ROOT]}
    perimeter = {"Version": "2012-10-17", "Statement": [ROOT, *DENIES]}
    print(f"load {os.getloadavg()[0]:.2f}; CPU ms, best of {args.repeat}")
    print("| grants | alone | policy without Deny | 3 Denies | 3 Denies, memos kept |")
    print("|---|---|---|---|---|")
    for n in (1, 10, 50):
        gs = grants(n)

        def run(policy: Any, gs: list[dict[str, Any]] = gs) -> None:
            cmkguard.analyze_grants(gs, key_account=K, key_policy=policy)

        alone = cpu(lambda: run(None), args.repeat)
        plain = cpu(lambda: run(no_deny), args.repeat)
        denied = cpu(lambda: run(perimeter), args.repeat)
        warm = cpu(lambda: run(perimeter), args.repeat, fresh=False)
        print(f"| {n} | {alone:.1f} | {plain:.1f} | {denied:.1f} | {warm:.1f} |")


if __name__ == "__main__":
    main()
