"""`cmkguard iac check` and Checkov side by side on the IaC fixtures, and their run times.

Run: ``.venv/bin/python benchmarks/iac_vs_checkov.py [--checkov PATH] [--markdown]``

Checkov is NOT a cmkguard dependency (and must never become one): install it in a throwaway
environment (``python3 -m venv /tmp/checkov-venv && /tmp/checkov-venv/bin/pip install checkov``)
and point ``--checkov`` (or ``CHECKOV``) at its executable; without it the script says so and
exits 0 after timing cmkguard alone.

For every storage resource of the fixtures (tests/iac/fixtures: a real Terraform plan with
modules, references and values known only after apply; a YAML and a JSON CloudFormation
template with intrinsic functions) it prints the key class it really gets once deployed (the
classes the tests assert, each derived from the AWS documentation: see docs/iac.md), what
cmkguard says, and which of Checkov's encryption checks fail or pass on it, with a verdict for
Checkov: *right* (it flags a resource that is not on a customer-managed key, or passes one that
is), *false alarm* (it flags a resource on a customer-managed key), *missed* (no check of its
fails on a resource that is not on a customer-managed key), or *unknowable* (the key depends on
something outside the file: a snapshot, an import).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.iac.test_cloudformation import JSON_EXPECTED, YAML_EXPECTED  # noqa: E402
from tests.iac.test_terraform_plan import EXPECTED as PLAN_EXPECTED  # noqa: E402

from cmkguard.iac import check_iac  # noqa: E402

FIXTURES = ROOT / "tests" / "iac" / "fixtures"
PLAN = FIXTURES / "terraform" / "estate" / "plan.json"
CFN_YAML = FIXTURES / "cloudformation" / "estate.yaml"
CFN_JSON = FIXTURES / "cloudformation" / "secrets.json"
ACCOUNT = {PLAN: None, CFN_YAML: "111122223333", CFN_JSON: "111122223333"}

# Checkov's checks about the key (or the encryption) of the resource types cmkguard checks.
STORAGE_CHECKS = {
    "CKV_AWS_16": "RDS instance encrypted",
    "CKV_AWS_96": "Aurora cluster encrypted",
    "CKV_AWS_327": "RDS cluster on a CMK",
    "CKV_AWS_149": "secret on a CMK",
    "CKV_AWS_266": "snapshot copy on a CMK",
}
PI_CHECK = "CKV_AWS_354"  # Performance Insights on a CMK: a secondary key, judged on its own
KEY_CHECKS = {
    "CKV_AWS_7": "KMS key rotation",
    "CKV_AWS_33": "KMS key policy wildcard principal",
    "CKV2_AWS_64": "KMS key policy defined",
}
NOT_A_CMK = {"aws_managed", "aws_owned", "unencrypted", "cross_account"}


def truth() -> dict[tuple[str, str], tuple[str, bool]]:
    """(file, address) -> (the key class the resource really gets, whether its Performance
    Insights is on an AWS-managed key): the tests' expectations."""
    out: dict[tuple[str, str], tuple[str, bool]] = {}
    for path, rows in ((PLAN, PLAN_EXPECTED), (CFN_YAML, YAML_EXPECTED), (CFN_JSON, JSON_EXPECTED)):
        for address, key_class, _, findings in rows:
            pi = "rds-performance-insights-aws-managed-key" in findings
            out[(path.name, address)] = (key_class, pi)
    return out


def run_cmkguard(rounds: int) -> tuple[dict[tuple[str, str], tuple[str, list[str], str]], float]:
    """cmkguard's class, finding ids and kind per resource, and the CPU seconds of one check of
    all three files."""
    results: dict[tuple[str, str], tuple[str, list[str], str]] = {}
    start = time.process_time()
    for _ in range(rounds):
        for path, account in ACCOUNT.items():
            report = check_iac([path], account=account)
            for r in report.resources:
                name = r.key_class.name.lower()
                findings = sorted(f.rule_id for f in r.findings)
                results[(path.name, r.address)] = (name, findings, r.kind)
    return results, (time.process_time() - start) / rounds


def run_checkov(exe: str) -> tuple[dict[tuple[str, str], dict[str, str]], float]:
    """Checkov's verdict on each of its key checks per resource, and the wall time of all runs."""
    out: dict[tuple[str, str], dict[str, str]] = {}
    wall = 0.0
    for path in ACCOUNT:
        framework = "terraform_plan" if path == PLAN else "cloudformation"
        cmd = [exe, "-f", str(path), "--framework", framework, "-o", "json"]
        cmd += ["--compact", "--skip-download"]
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        wall += time.perf_counter() - start
        runs: Any = json.loads(done.stdout or "[]")
        for run in runs if isinstance(runs, list) else [runs]:
            results = run.get("results", {}) if isinstance(run, dict) else {}
            for status, verdict in (("failed_checks", "FAIL"), ("passed_checks", "pass")):
                for check in results.get(status, ()):
                    if check["check_id"] in {**STORAGE_CHECKS, **KEY_CHECKS, PI_CHECK: ""}:
                        resource = check["resource"]
                        if framework == "cloudformation":
                            resource = resource.split(".", 1)[-1]  # AWS::RDS::DBInstance.Id
                        out.setdefault((path.name, resource), {})[check["check_id"]] = verdict
    return out, wall


def pi_verdict(real_pi: bool, checks: dict[str, str]) -> str:
    """Checkov's verdict on a resource's Performance Insights key."""
    if PI_CHECK not in checks:
        return "missed" if real_pi else "-"
    flagged = checks[PI_CHECK] == "FAIL"
    return "right" if flagged == real_pi else ("false alarm" if flagged else "missed")


def verdict(real: str, checks: dict[str, str]) -> str:
    """Checkov's verdict on one storage resource's own key."""
    storage = {c: v for c, v in checks.items() if c in STORAGE_CHECKS}
    flagged = "FAIL" in storage.values()
    if real == "unknown":
        return "unknowable" + (" (flags it)" if flagged else " (passes it)")
    if real in NOT_A_CMK:
        return "right" if flagged else "missed"
    return "false alarm" if flagged else "right"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkov", default=os.environ.get("CHECKOV", ""))
    parser.add_argument("--rounds", type=int, default=5, help="cmkguard repetitions (timing)")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    args = parser.parse_args()
    exe = args.checkov or shutil.which("checkov") or "/tmp/checkov-venv/bin/checkov"
    print(f"load average: {Path('/proc/loadavg').read_text().split()[:3]}")
    ours, cpu = run_cmkguard(args.rounds)
    print(f"cmkguard: {len(ours)} resources in 3 files, {cpu * 1000:.1f} ms CPU per check of all")
    if not Path(exe).exists():
        print(f"checkov not found at {exe}: install it in a throwaway venv (see the docstring)")
        return 0
    version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.strip()
    theirs, wall = run_checkov(exe)
    print(f"checkov {version}: {wall:.1f} s wall for the 3 files (one process per file)")
    real = truth()
    rows = []
    tally: dict[str, int] = {}
    pi_tally: dict[str, int] = {}
    ours_right = 0
    for key, (real_class, real_pi) in real.items():
        our_class, findings, kind = ours.get(key, ("-", [], ""))
        ours_right += our_class == real_class
        checks = theirs.get(key, {})
        if kind.startswith("kms:"):
            v, pv = "(a key)", "-"
        else:
            v, pv = verdict(real_class, checks), pi_verdict(real_pi, checks)
            tally[v.split(" (")[0]] = tally.get(v.split(" (")[0], 0) + 1
            if pv != "-":
                pi_tally[pv] = pi_tally.get(pv, 0) + 1
        shown = ", ".join(f"{c} {s}" for c, s in sorted(checks.items())) or "no check"
        rows.append(
            (key[0], key[1], real_class, our_class, ", ".join(findings) or "-", shown, v, pv)
        )
    header = (
        "file",
        "resource",
        "really",
        "cmkguard",
        "cmkguard findings",
        "checkov checks",
        "checkov on the key",
        "checkov on PI",
    )
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for row in rows:
            cells = [f"`{c}`" if i == 1 else c for i, c in enumerate(row)]
            print("| " + " | ".join(cells) + " |")
    else:
        for row in rows:
            print("  ".join(row))
    print(f"cmkguard: {ours_right}/{len(real)} key classes right")
    print(f"checkov on the own key of the {sum(tally.values())} storage resources: {tally}")
    print(f"checkov on Performance Insights keys: {pi_tally}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
