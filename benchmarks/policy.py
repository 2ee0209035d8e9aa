"""Key-policy analysis throughput, and agreement with policyuniverse, over both corpora.

Run: ``.venv/bin/python benchmarks/policy.py [--rounds N]`` (``--adversarial-only``: only the
pathological families below, no policyuniverse needed)

First the adversarial families of ``tests/policy/adversarial.py`` (one full analysis each, with
findings, witnesses and ``principals_allowed``, every memo cleared before it, best of
``--repeat`` CPU times): wildcard-heavy policies with a conditional Deny every third statement
at 2/4/8/16/32 statements and at the 32 KB size limit; at 32 KB also ANDed negated Deny caps,
one Allow per account for many accounts, and colon-spanning ``StringLike`` ARN patterns; 12-star
globs in Action/NotAction/Deny/ArnLike, and many conditions; then (``slow_families``, not in
the test suite) many ``NotPrincipal`` Denies, one condition per operator family with as many
values as fit, and ``IfExists`` negated wildcard caps on many keys. Each row says whether the
analysis stayed exact (``PolicyAnalysis.exact``) or reached its work bound.

Analyses per CPU second for ``cmkguard.analyze_key_policy`` over every case of the shared public
corpus and of ``tests/policy/corpus``, given decoded policies, against policyuniverse's
``Policy(doc).is_internet_accessible()`` on the same decoded policies in the same process (batches
interleaved), in three regimes, because cmkguard remembers what it has seen (bounded memos):

- **repeated** (all memos warm): every policy was analysed before, as the keys of an estate
  repeat policies (identical policies share one analysis, keyed by their validated parts; each
  answer is computed once, when first read). Reading ``is_public``, ``external_access``, with
  findings, and for policy *text*.
- **first sight** (the analysis memo cleared before each pass, the memos of parts warm): every
  policy is new, its principals, action lists and conditions were seen before (an estate's first
  keys fill those memos). Here the exact pre-screen (``cmkguard.policy._screen``) answers the
  common shapes and the engine the rest, about a millisecond each; also the figure restricted
  to the policies the screen decides, with policyuniverse on the same subset.
- **cold** (every memo cleared before each pass).

Then the verdicts side by side with every case where the two disagree and why. policyuniverse is
NOT a cmkguard dependency: install it into the environment you run this from
(``.venv/bin/pip install policyuniverse``).
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
from cmkguard.policy._screen import screen_public
from cmkguard.policy.analysis import _clear_memos, clear_analysis_memo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the adversarial families are shared with tests/policy
from tests.policy.adversarial import (  # noqa: E402
    KEY_ACCOUNT,
    adversarial_policies,
    slow_families,
)

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
    rows = adversarial_policies() + slow_families()
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
    screened = [(c, d) for c, d in usable if _screened(c, d)]

    def public_of(pairs: list[tuple[dict[str, Any], Any]]) -> Callable[[], int]:
        def run() -> int:
            for case, doc in pairs:
                with contextlib.suppress(cmkguard.PolicyParseError):
                    _ = cmkguard.analyze_key_policy(doc, key_account=case["key_account"]).is_public
            return len(pairs)

        return run

    def run_cmkguard() -> int:
        for case, doc in usable:
            with contextlib.suppress(cmkguard.PolicyParseError):
                _ = cmkguard.analyze_key_policy(
                    doc, key_account=case["key_account"], org_id=case.get("org_id")
                ).findings
        return len(usable)

    def run_cmkguard_external_only() -> int:
        for case, doc in usable:
            with contextlib.suppress(cmkguard.PolicyParseError):
                _ = cmkguard.analyze_key_policy(
                    doc, key_account=case["key_account"]
                ).external_access
        return len(usable)

    texts = [(c, json.dumps(d)) for c, d in usable]

    def run_texts_repeated() -> int:
        # Policy TEXT, as GetKeyPolicy returns it: identical texts share one analysis (memo).
        for case, text in texts:
            with contextlib.suppress(cmkguard.PolicyParseError):
                _ = cmkguard.analyze_key_policy(text, key_account=case["key_account"]).is_public
        return len(texts)

    def policyuniverse_of(pairs: list[tuple[dict[str, Any], Any]]) -> Callable[[], int]:
        def run() -> int:
            for _, doc in pairs:
                with contextlib.suppress(Exception):
                    Policy(doc).is_internet_accessible()
            return len(pairs)

        return run

    def first_sight(fn: Callable[[], int]) -> Callable[[], int]:
        def run() -> int:
            clear_analysis_memo()  # every policy new; its parts seen before
            return fn()

        return run

    def cold(fn: Callable[[], int]) -> Callable[[], int]:
        def run() -> int:
            _clear_memos()  # every principal, action list, condition and analysis forgotten
            return fn()

        return run

    run_public = public_of(usable)
    run_pu = policyuniverse_of(usable)
    machine = f"{platform.machine()} {platform.processor()}".strip()
    print(f"machine: {machine}, {os.cpu_count()} CPUs, python {sys.version.split()[0]}")
    print(
        f"corpus: {len(cases)} cases ({len(usable)} decodable policies timed, "
        f"{len(screened)} of them decided by the pre-screen)"
    )
    load0 = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    (ours_pub, n), (theirs, _), (ours_ext, _), (ours, _), (cached, _) = rates(
        [run_public, run_pu, run_cmkguard_external_only, run_cmkguard, run_texts_repeated],
        args.rounds,
    )
    # The regimes that forget re-analyse in every pass: fewer rounds keep the run short.
    few = max(1, args.rounds // 8)
    (first_pub, _), (first_ext, _), (first_all, _), (cold_pub, _) = rates(
        [
            first_sight(run_public),
            first_sight(run_cmkguard_external_only),
            first_sight(run_cmkguard),
            cold(run_public),
        ],
        few,
        batches=3,
    )
    (scr_first, _), (scr_pu, _), (scr_cold, _) = rates(
        [first_sight(public_of(screened)), policyuniverse_of(screened), cold(public_of(screened))],
        args.rounds,
        batches=5,
    )
    load1 = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"policyuniverse is_internet_accessible():      {theirs:10,.0f} analyses/s ({n} per batch)"
    )
    print("repeated policies (all memos warm):")
    print(f"  cmkguard is_public:                         {ours_pub:10,.0f} analyses/s")
    print(f"  cmkguard external_access:                   {ours_ext:10,.0f} analyses/s")
    print(f"  cmkguard with findings and explanations:    {ours:10,.0f} analyses/s")
    print(f"  cmkguard is_public, policy text:            {cached:10,.0f} analyses/s")
    print("first sight (analysis memo cleared per pass, parts memos warm):")
    print(f"  cmkguard is_public:                         {first_pub:10,.0f} analyses/s")
    print(f"  cmkguard external_access:                   {first_ext:10,.0f} analyses/s")
    print(f"  cmkguard with findings and explanations:    {first_all:10,.0f} analyses/s")
    print("cold (every memo cleared per pass):")
    print(f"  cmkguard is_public:                         {cold_pub:10,.0f} analyses/s")
    print(f"the {len(screened)} policies the pre-screen decides, first sight / cold:")
    print(
        f"  cmkguard is_public:                         {scr_first:10,.0f} / {scr_cold:,.0f}"
        " analyses/s"
    )
    print(f"  policyuniverse on the same policies:        {scr_pu:10,.0f} analyses/s")
    print(f"load average (1 min) before / after timing: {load0:.2f} / {load1:.2f}")
    print(
        f"ratio cmkguard/policyuniverse, is_public: {ours_pub / theirs:.2f}x repeated, "
        f"{first_pub / theirs:.3f}x first sight, {cold_pub / theirs:.3f}x cold; "
        f"screened shapes {scr_first / scr_pu:.2f}x first sight, {scr_cold / scr_pu:.2f}x cold"
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


def _screened(case: dict[str, Any], doc: Any) -> bool:
    """Whether the pre-screen decides `is_public` for this case (no engine needed)."""
    try:
        policy = cmkguard.parse_key_policy(doc)
    except cmkguard.PolicyParseError:
        return False
    return screen_public(policy, case["key_account"], None) is not None


if __name__ == "__main__":
    raise SystemExit(main())
