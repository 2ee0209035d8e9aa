"""Key-policy analysis throughput, and agreement with policyuniverse, over both corpora.

Run: ``.venv/bin/python benchmarks/policy.py [--rounds N]`` (``--adversarial-only``: only the
pathological families below, no policyuniverse needed)

First the adversarial families of ``tests/policy/adversarial.py`` (one full analysis each, with
findings, witnesses and ``principals_allowed``, every memo cleared before it, best of
``--repeat`` CPU times): wildcard-heavy policies with a conditional Deny every third statement
at 2/4/8/16/32 statements and at the 32 KB size limit; at 32 KB also ANDed negated Deny caps,
one Allow per account for many accounts, and colon-spanning ``StringLike`` ARN patterns; 12-star
globs in Action/NotAction/Deny/ArnLike, and many conditions. Each row says whether the analysis
stayed exact (``PolicyAnalysis.exact``) or reached its work bound.

Analyses per CPU second for ``cmkguard.analyze_key_policy`` over every case of the shared public
corpus and of ``tests/policy/corpus``, given decoded policies (the analysis cache, keyed by policy
text, does not apply to them): with findings and per-statement explanations, reading ``is_public``
only, and ``external_access`` only (findings are lazy); ``is_public`` again with every memo of
policy parts (principals, action lists, conditions) cleared before each pass; then for
policy *text* seen before (identical texts share a memoised analysis, as keys of an estate
do); then the same decoded policies through policyuniverse's
``Policy(doc).is_internet_accessible()`` in the same process, then the verdicts side by side with
every case where the two disagree and why. policyuniverse is NOT a cmkguard dependency: install it
into the environment you run this from (``.venv/bin/pip install policyuniverse``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cmkguard
from cmkguard.policy.analysis import _clear_memos

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the adversarial families are shared with tests/policy
from tests.policy.adversarial import KEY_ACCOUNT, adversarial_policies  # noqa: E402

CORPORA = (ROOT.parent / "shared" / "policy-corpus-public", ROOT / "tests" / "policy" / "corpus")


def load_cases() -> list[tuple[str, dict[str, Any]]]:
    """Every (name, case) of both corpora (a missing corpus directory is skipped)."""
    cases = []
    for directory in CORPORA:
        if not directory.is_dir():
            print(f"note: {directory} not found, skipped", file=sys.stderr)
            continue
        for path in sorted(directory.glob("*.json")):
            cases.append((path.stem, json.loads(path.read_text(encoding="utf-8"))))
    return cases


def _decoded(case: dict[str, Any]) -> Any:
    """The policy as a decoded JSON value (what both libraries are given), or None."""
    if "policy" in case:
        return case["policy"]
    try:
        return json.loads(case["policy_text"])  # duplicate keys: last one wins, as in json
    except ValueError:
        return None


def cmkguard_verdict(case: dict[str, Any]) -> str:
    """``public`` / ``not public`` / ``malformed`` from cmkguard."""
    policy = case["policy_text"] if "policy_text" in case else case["policy"]
    try:
        analysis = cmkguard.analyze_key_policy(
            policy,
            key_account=case["key_account"],
            org_id=case.get("org_id"),
            trusted_accounts=case.get("trusted_accounts", ()),
            key_arn=case.get("key_arn"),
        )
    except cmkguard.PolicyParseError:
        return "malformed"
    return "public" if analysis.is_public else "not public"


def adversarial(repeat: int = 3) -> None:
    """Print one row per adversarial policy: size, best CPU ms of `repeat`, verdict, exactness."""
    rows = adversarial_policies()
    print(f"adversarial policies (full analysis, memos cleared, best of {repeat} CPU times):")
    print(f"  load average at the start: {_loadavg()}")
    worst = 0.0
    for name, doc in rows:
        best = float("inf")
        outcome = ""
        for _ in range(repeat):
            _clear_memos()
            start = time.process_time()
            try:
                analysis = cmkguard.analyze_key_policy(doc, key_account=KEY_ACCOUNT)
                _ = (
                    analysis.findings,
                    analysis.witnesses,
                    analysis.principals_allowed("kms:Decrypt"),
                )
                outcome = f"public={analysis.is_public!s:5} exact={analysis.exact}"
            except cmkguard.PolicyParseError:
                outcome = "refused (PolicyParseError)"
            best = min(best, time.process_time() - start)
        worst = max(worst, best)
        size = len(json.dumps(doc))
        print(f"  {name:52} {size:6,} B {best * 1000:8.1f} ms  {outcome}")
    print(f"  slowest: {worst * 1000:.1f} ms; load average at the end: {_loadavg()}")


def _loadavg() -> str:
    """The whole of /proc/loadavg (1, 5 and 15 minutes, runnable/all, last pid)."""
    try:
        with open("/proc/loadavg", encoding="ascii") as f:
            return f.read().strip()
    except OSError:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())


def rates(fns: list[Callable[[], int]], rounds: int, batches: int = 7) -> list[tuple[float, int]]:
    """(calls per CPU second, calls per batch) of each of ``fns``, best of ``batches`` batches of
    ``rounds`` runs.

    The batches are interleaved (one batch of each function in turn), so that every function,
    cmkguard's and policyuniverse's alike, meets the same moments of a shared machine. CPU time
    of this process, not wall time: other processes' load would otherwise decide the figure.
    """
    for fn in fns:
        fn()  # warm caches and imports
    best = [0.0] * len(fns)
    calls = [0] * len(fns)
    for _ in range(batches):
        for i, fn in enumerate(fns):
            start = time.process_time()
            calls[i] = sum(fn() for _ in range(rounds))
            elapsed = time.process_time() - start
            best[i] = max(best[i], calls[i] / max(elapsed, 1e-9))
    return list(zip(best, calls, strict=True))


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40, help="passes over the corpus per batch")
    parser.add_argument(
        "--adversarial-only", action="store_true", help="only the pathological families"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per adversarial policy (best is shown)"
    )
    args = parser.parse_args(argv)
    adversarial(args.repeat)
    if args.adversarial_only:
        return 0
    try:
        from policyuniverse.policy import Policy  # type: ignore[import-untyped]
    except ImportError:
        print(
            "policyuniverse is not installed: .venv/bin/pip install policyuniverse "
            "(benchmark only; not a cmkguard dependency)",
            file=sys.stderr,
        )
        return 2
    cases = load_cases()
    inputs = [(c, _decoded(c)) for _, c in cases]
    usable = [(c, d) for c, d in inputs if isinstance(d, dict)]

    def run_cmkguard() -> int:
        for case, doc in usable:
            with contextlib.suppress(cmkguard.PolicyParseError):
                _ = cmkguard.analyze_key_policy(
                    doc, key_account=case["key_account"], org_id=case.get("org_id")
                ).findings
        return len(usable)

    def run_cmkguard_public_only() -> int:
        for case, doc in usable:
            with contextlib.suppress(cmkguard.PolicyParseError):
                _ = cmkguard.analyze_key_policy(doc, key_account=case["key_account"]).is_public
        return len(usable)

    def run_cmkguard_external_only() -> int:
        for case, doc in usable:
            with contextlib.suppress(cmkguard.PolicyParseError):
                _ = cmkguard.analyze_key_policy(
                    doc, key_account=case["key_account"]
                ).external_access
        return len(usable)

    def run_cmkguard_public_cold() -> int:
        # Every principal, action list, condition and outcome memo forgotten before each pass:
        # the parts of the corpus's policies are new to the analyser (within a pass, parts that
        # several policies share are remembered, as across the keys of an estate).
        _clear_memos()
        return run_cmkguard_public_only()

    texts = [(c, json.dumps(d)) for c, d in usable]

    def run_texts_repeated() -> int:
        # Policy TEXT, as GetKeyPolicy returns it: identical texts share one analysis (cache).
        for case, text in texts:
            with contextlib.suppress(cmkguard.PolicyParseError):
                _ = cmkguard.analyze_key_policy(text, key_account=case["key_account"]).is_public
        return len(texts)

    def run_policyuniverse() -> int:
        for _, doc in usable:
            with contextlib.suppress(Exception):
                Policy(doc).is_internet_accessible()
        return len(usable)

    machine = f"{platform.machine()} {platform.processor()}".strip()
    print(f"machine: {machine}, {os.cpu_count()} CPUs, python {sys.version.split()[0]}")
    print(f"corpus: {len(cases)} cases ({len(usable)} decodable policies timed)")
    (ours_pub, _), (theirs, _), (ours_ext, _) = rates(
        [run_cmkguard_public_only, run_policyuniverse, run_cmkguard_external_only], args.rounds
    )
    (ours, n), (cold, _), (cached, _) = rates(
        [run_cmkguard, run_cmkguard_public_cold, run_texts_repeated], args.rounds, batches=5
    )
    print(f"cmkguard analyze_key_policy + findings:   {ours:10,.0f} analyses/s ({n} per batch)")
    print(f"cmkguard analyze_key_policy().is_public:  {ours_pub:10,.0f} analyses/s")
    print(f"policyuniverse is_internet_accessible():  {theirs:10,.0f} analyses/s")
    print(f"cmkguard ....external_access:             {ours_ext:10,.0f} analyses/s")
    print(f"cmkguard is_public, memos cleared per pass: {cold:8,.0f} analyses/s")
    print(f"cmkguard, policy text seen before:        {cached:10,.0f} analyses/s (memoised)")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average (1 min) after timing: {load:.2f}")
    print(
        f"ratio cmkguard/policyuniverse: {ours_pub / theirs:.2f}x (is_public), "
        f"{ours / theirs:.2f}x (with findings and explanations)"
    )

    agree = 0
    well_formed = well_formed_agree = 0
    differ: list[str] = []
    for name, case in cases:
        mine = cmkguard_verdict(case)
        doc = _decoded(case)
        try:
            pu = "public" if Policy(doc).is_internet_accessible() else "not public"
        except Exception as exc:
            pu = f"error ({type(exc).__name__})"
        if mine != "malformed":
            well_formed += 1
            well_formed_agree += mine == pu
        if mine == pu:
            agree += 1
            continue
        differ.append(f"  {name}: cmkguard={mine}, policyuniverse={pu}\n      why: {_why(case)}")
    print(f"agreement on public/not public: {agree}/{len(cases)} ({100 * agree / len(cases):.0f}%)")
    print(
        f"  on the {well_formed} well-formed policies: {well_formed_agree}/{well_formed} "
        f"({100 * well_formed_agree / max(well_formed, 1):.0f}%); on the "
        f"{len(cases) - well_formed} malformed ones cmkguard raises PolicyParseError while "
        "policyuniverse returns a verdict or crashes"
    )
    print(f"cases where they differ ({len(differ)}):")
    print("\n".join(differ))
    return 0


def _why(case: dict[str, Any]) -> str:
    """The rule behind the expected answer (the case's notes, else the rule it exercises)."""
    expected = case["expected"]
    notes = expected.get("notes") or ""
    # Skip the provenance sentences ("Rewrote...", "Verbatim...") and keep the reasoning.
    sentences = [
        s
        for s in notes.split(". ")
        if s and not s.startswith(("Rewrote", "Verbatim", "Doc statement", "Reconstructed"))
    ]
    text = case["source"].removeprefix("semantics: ")
    if sentences:
        text = ". ".join(sentences[:2])
    if expected.get("malformed"):
        text = "malformed, KMS would refuse it: " + text
    return text[:260]


if __name__ == "__main__":
    raise SystemExit(main())
