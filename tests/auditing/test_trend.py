"""KPIs over time: three audits of the emulated account, a week apart, with real changes between
them (a secret re-keyed to a CMK, one deleted, one created; automatic rotations recorded by the
emulator), saved as `cmkguard audit --format json` would, then read back as a history.

The audits' clocks are set a week apart (`Inventory.scanned_at` and `audit(now=...)`): the
emulator's state is real, only the calendar is simulated.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import pytest

import cmkguard
from cmkguard.cli import main
from cmkguard.testing import EmulatedAWS

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday: ISO week 2026-W45
WEEK = timedelta(days=7)
RULE = "secret-aws-managed-key"


def _audit(
    aws: EmulatedAWS, at: datetime, previous: cmkguard.AuditReport | None
) -> cmkguard.AuditReport:
    inv = cmkguard.scan(aws.session(), resource_types=["secretsmanager"])
    inv = attrs.evolve(inv, scanned_at=at)
    return cmkguard.audit(inv, previous=previous, now=at)


@pytest.fixture(name="history_dir")
def _history_dir(cmkguard_emulated_aws: EmulatedAWS, tmp_path: Path) -> Path:
    aws = cmkguard_emulated_aws
    kms = aws.client("kms")
    sm = aws.client("secretsmanager")
    key = kms.create_key(Description="ledger key")["KeyMetadata"]["KeyId"]
    kms.enable_key_rotation(KeyId=key)
    sm.create_secret(Name="ledger", SecretString="x", KmsKeyId=key)
    sm.create_secret(Name="orders", SecretString="x")  # aws/secretsmanager
    sm.create_secret(Name="billing", SecretString="x")  # aws/secretsmanager

    first = _audit(aws, T0, None)
    # Week 2: orders re-keyed to the CMK; KMS rotated the key automatically in between.
    sm.update_secret(SecretId="orders", KmsKeyId=key)
    aws.record_automatic_rotation(key, datetime(2026, 9, 30, tzinfo=UTC))  # 2026-Q3
    aws.record_automatic_rotation(key, T0 + timedelta(days=3))  # 2026-Q4
    kms.rotate_key_on_demand(KeyId=key)  # on demand: not an automatic rotation
    second = _audit(aws, T0 + WEEK, first)
    # Week 3: billing deleted, ads created on the AWS managed key.
    sm.delete_secret(SecretId="billing", ForceDeleteWithoutRecovery=True)
    sm.create_secret(Name="ads", SecretString="x")
    third = _audit(aws, T0 + 2 * WEEK, second)

    for n, report in enumerate((first, second, third), start=1):
        (tmp_path / f"audit-{n}.json").write_text(report.to_json())
    return tmp_path


def _secret_coverage(point: cmkguard.TrendPoint) -> tuple[int, int]:
    cov = point.coverage_by_resource_type["secretsmanager:secret"]
    return cov.on_cmk, cov.measured


def test_trend_over_three_audits(history_dir: Path) -> None:
    t = cmkguard.trend(cmkguard.audit_history(history_dir))

    assert [p.observed_at for p in t.points] == [T0, T0 + WEEK, T0 + 2 * WEEK]
    assert [_secret_coverage(p) for p in t.points] == [(1, 3), (2, 3), (2, 3)]
    assert [p.coverage_by_account["111122223333"].percent for p in t.points] == [
        33.33,
        66.67,
        66.67,
    ]
    # orders fixed after 7 days, billing gone after 14: mean 10.5 days; ads still open.
    mttr = t.mttr(RULE)
    assert mttr is not None
    assert (mttr.remediated, mttr.still_open, mttr.mean_days) == (2, 1, 10.5)
    assert t.new_findings_per_week["2026-W47"] == 1  # ads
    assert sum(t.new_findings_per_week.values()) >= 3
    assert t.automatic_rotations_per_quarter == {"2026-Q3": 1, "2026-Q4": 1}
    control = next(c for c in t.controls if c.rule_id == RULE)
    assert (control.passed, control.failed) == (0, 3)
    never = next(c for c in t.controls if c.rule_id == "public-access")
    assert (never.passed, never.failed, never.pass_rate) == (3, 0, 100.0)
    assert t.complete


def test_trend_renders_as_json_html_and_dataframe(history_dir: Path) -> None:
    t = cmkguard.trend(cmkguard.audit_history(history_dir))
    data = json.loads(json.dumps(t.to_dict()))
    assert data["audits"] == 3
    assert data["automatic_rotations_per_quarter"] == {"2026-Q3": 1, "2026-Q4": 1}
    html = cmkguard.trend_html(t)
    assert "<svg" in html
    assert "<title" in html
    assert "<desc" in html
    assert "<script" not in html
    assert "secretsmanager:secret: 2026-11-02 33.3%, 2026-11-09 66.7%" in html
    pd = pytest.importorskip("pandas")
    frame = cmkguard.trend_dataframe(t, "coverage")
    assert isinstance(frame, pd.DataFrame)
    secrets = frame[frame["group"] == "secretsmanager:secret"]
    assert list(secrets["on_cmk"]) == [1, 2, 2]
    mttr = cmkguard.trend_dataframe(t, "mttr").set_index("rule_id")
    assert mttr.loc[RULE, "mean_days"] == 10.5
    assert mttr.loc[RULE, "still_open"] == 1


def test_cli_trend_formats(
    history_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "trend", str(history_dir), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["audits"] == 3
    out = tmp_path / "trend.html"
    assert main(["report", "trend", str(history_dir), "--format", "html", "-o", str(out)]) == 0
    assert out.read_text().startswith("<!DOCTYPE html>")
    assert main(["report", "trend", str(history_dir)]) == 0
    assert "Mean time to remediate" in capsys.readouterr().out


def test_a_bad_file_is_reported_not_a_crash(
    history_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (history_dir / "broken.json").write_text("{not json")
    (history_dir / "other.json").write_text('{"hello": 1}')
    history = cmkguard.audit_history(history_dir)
    assert len(history) == 3
    assert sorted(Path(p.source).name for p in history.problems) == ["broken.json", "other.json"]
    assert main(["report", "trend", str(history_dir), "--format", "json"]) == 3
    captured = capsys.readouterr()
    assert "broken.json" in captured.err
    assert len(json.loads(captured.out)["problems"]) == 2
    assert main(["report", "trend", str(history_dir), "--allow-incomplete"]) == 0


@pytest.mark.parametrize("make", ["missing", "empty", "garbage", "file"])
def test_cli_bad_history_is_one_line_exit_2(
    make: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "history"
    if make == "empty":
        target.mkdir()
    elif make == "garbage":
        target.mkdir()
        (target / "x.json").write_text("[]")
    elif make == "file":
        target.write_text("")
    assert main(["report", "trend", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert str(target) in err
    with pytest.raises(cmkguard.HistoryError):
        cmkguard.audit_history(target)


def _report(
    at: datetime, fingerprints: list[str], *, complete: bool = True
) -> cmkguard.AuditReport:
    findings = [
        cmkguard.Finding(
            rule_id="r",
            severity=cmkguard.Severity.HIGH,
            title="t",
            message="m",
            remediation="x",
            discriminator=fp,
        )
        for fp in fingerprints
    ]
    base = cmkguard.audit(cmkguard.Inventory(), now=at)
    kpis = base.kpis
    if not complete:
        kpis = attrs.evolve(kpis, completeness=attrs.evolve(kpis.completeness, scan_errors=1))
    return attrs.evolve(base, findings=findings, kpis=kpis)


def test_absent_from_a_partial_scan_is_not_remediated() -> None:
    reports = [
        _report(T0, ["a", "b"]),
        _report(T0 + WEEK, [], complete=False),  # a gap may have hidden both
        _report(T0 + 2 * WEEK, ["b"]),
        _report(T0 + 3 * WEEK, []),
        _report(T0 + 4 * WEEK, ["b"]),  # it came back: a new episode
    ]
    t = cmkguard.trend(reports)
    mttr = t.mttr("r")
    assert mttr is not None
    assert (mttr.remediated, mttr.still_open, mttr.mean_days) == (2, 1, 17.5)  # 14 and 21 days
    assert not t.complete
    assert t.new_findings_per_week == {"2026-W45": 2, "2026-W49": 1}
