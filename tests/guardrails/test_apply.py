"""Deploying guardrails through the migration executor, end to end on the emulated account.

Dry run first (nothing sent), then for real (SCP created in Organizations and attached to the
root, EventBridge rules with a target, Config rules, a key policy), then again (everything
skipped per the journal), and a resume after a crash between `CreatePolicy` and its journal
entry (adopted). A key policy that locks everybody out blocks the plan.
"""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from cmkguard import MigrationPlan, execute, plan_guardrails
from cmkguard.cli import main
from cmkguard.errors import ConfigurationError, PreflightError
from cmkguard.guardrails import alert_rules, build_key_policy, config_rules, generate_scps
from cmkguard.migrate import MemoryJournal

from .conftest import key_arn


@pytest.fixture(name="org")
def _org(session: boto3.Session) -> tuple[boto3.Session, str, str]:
    orgs = session.client("organizations", region_name="us-east-1")
    orgs.create_organization(FeatureSet="ALL")
    root = orgs.list_roots()["Roots"][0]["Id"]
    account = session.client("sts").get_caller_identity()["Account"]
    return session, root, account


def _plan(session: boto3.Session, root: str, account: str) -> tuple[MigrationPlan, str, str]:
    iam = session.client("iam")
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "ec2.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )
    iam.create_role(RoleName="KeyAdmin", AssumeRolePolicyDocument=trust)
    kms = session.client("kms", region_name="us-east-1")
    key = kms.create_key()["KeyMetadata"]["Arn"]
    topic = session.client("sns", region_name="us-east-1").create_topic(Name="kms-alerts")
    policy = build_key_policy(
        account=account,
        region="us-east-1",
        service="rds",
        admins=[f"arn:aws:iam::{account}:role/KeyAdmin"],
    )
    approved = [key]
    plan = plan_guardrails(
        scps=generate_scps(approved),
        scp_targets=[root],
        alerts=alert_rules(),
        alert_regions=["us-east-1"],
        alert_target_arn=topic["TopicArn"],
        config_rules=config_rules(approved, regions=["us-east-1"]),
        key_policies={key: policy},
    )
    return plan, key, json.dumps(policy, separators=(",", ":"))


def test_dry_run_sends_nothing_then_the_real_run_deploys_everything(
    org: tuple[boto3.Session, str, str], tmp_path: Path
) -> None:
    session, root, account = org
    plan, key, policy_text = _plan(session, root, account)
    assert plan.executable
    assert not plan.blocking
    assert "key-policy-lockout" in {i.check for i in plan.preflight}
    plan = MigrationPlan.from_json(plan.to_json())  # reviewed and stored as JSON
    journal = tmp_path / "journal.json"
    orgs = session.client("organizations", region_name="us-east-1")

    dry = execute(plan, session, journal=journal)
    assert dry.state == "dry-run"
    requests = dry.requests()
    assert any(r.startswith("organizations.CreatePolicy") for r in requests)
    assert any("AttachPolicy" in r and "$policy-id" in r for r in requests)
    assert orgs.list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"] == [
        p
        for p in orgs.list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"]
        if p["Name"] == "FullAWSAccess"
    ]

    real = execute(plan, session, journal=journal, dry_run=False)
    assert real.state == "completed", str(real)
    (scp,) = [
        p
        for p in orgs.list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"]
        if p["Name"] == "cmkguard-cmk-guardrails"
    ]
    attached = orgs.list_policies_for_target(TargetId=root, Filter="SERVICE_CONTROL_POLICY")
    assert scp["Id"] in {p["Id"] for p in attached["Policies"]}
    content = orgs.describe_policy(PolicyId=scp["Id"])["Policy"]["Content"]
    assert json.loads(content) == generate_scps([key]).documents[0]

    events = session.client("events", region_name="us-east-1")
    names = {r["Name"] for r in events.list_rules(NamePrefix="cmkguard-")["Rules"]}
    assert names == {r.name for r in alert_rules()}
    targets = events.list_targets_by_rule(Rule="cmkguard-kms-high-risk")["Targets"]
    assert [t["Id"] for t in targets] == ["cmkguard-alert"]

    stored = session.client("config", region_name="us-east-1").describe_config_rules()
    assert len(stored["ConfigRules"]) == 4

    kms = session.client("kms", region_name="us-east-1")
    got = kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"]
    assert json.loads(got) == json.loads(policy_text)

    again = execute(plan, session, journal=journal, dry_run=False)
    assert again.state == "completed"
    assert {r.status for r in again.results} == {"skipped"}


def test_a_crash_after_create_policy_resumes_by_adopting_it(
    org: tuple[boto3.Session, str, str],
) -> None:
    session, root, account = org
    scps = generate_scps([key_arn("us-east-1", account, 1)])
    plan = plan_guardrails(scps=scps, scp_targets=[root])
    orgs = session.client("organizations", region_name="us-east-1")
    # AWS accepted CreatePolicy, then the process died before the journal entry.
    (policy,) = scps.policies
    orgs.create_policy(
        Name=policy.name, Description="x", Type="SERVICE_CONTROL_POLICY", Content=policy.text
    )
    report = execute(plan, session, journal=MemoryJournal(), dry_run=False)
    assert [r.status for r in report.results] == ["adopted", "done"], str(report)
    # And an attachment that already exists is adopted too.
    report = execute(plan, session, journal=MemoryJournal(), dry_run=False)
    assert [r.status for r in report.results] == ["adopted", "adopted"]


def test_a_same_named_scp_with_other_content_fails_the_step_by_name(
    org: tuple[boto3.Session, str, str],
) -> None:
    session, root, account = org
    scps = generate_scps([key_arn("us-east-1", account, 1)])
    orgs = session.client("organizations", region_name="us-east-1")
    orgs.create_policy(
        Name=scps.policies[0].name,
        Description="someone else's",
        Type="SERVICE_CONTROL_POLICY",
        Content=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
            }
        ),
    )
    report = execute(
        plan_guardrails(scps=scps, scp_targets=[root]),
        session,
        journal=MemoryJournal(),
        dry_run=False,
    )
    assert report.state == "failed"
    assert report.failed_step == f"scp/{scps.policies[0].name}/01-create"
    assert "exists with other content" in (report.error or "")


def test_a_lock_out_key_policy_blocks_the_plan(session: boto3.Session) -> None:
    account = session.client("sts").get_caller_identity()["Account"]
    key = session.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["Arn"]
    nobody = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:role/App"},
                "Action": "kms:Decrypt",
                "Resource": "*",
            }
        ],
    }
    plan = plan_guardrails(key_policies={key: nobody})
    assert [i.check for i in plan.blocking] == ["key-policy-lockout"]
    assert (
        execute(plan, session, journal=MemoryJournal()).state == "blocked"
    )  # a dry run of a blocked plan says so
    with pytest.raises(PreflightError, match="kms:PutKeyPolicy"):
        execute(plan, session, journal=MemoryJournal(), dry_run=False)
    public = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"}],
    }
    assert "key-policy-public" in {
        i.check for i in plan_guardrails(key_policies={key: public}).blocking
    }


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({}, "nothing to deploy"),
        ({"scps": "scps"}, "at least one target"),
        ({"scps": "scps", "scp_targets": ["root"]}, "not a root"),
        ({"alerts": "alerts"}, "at least one region"),
        ({"key_policies": {"alias/x": {}}}, "not a KMS key ARN"),
    ],
)
def test_bad_plans_are_refused(kw: dict[str, object], message: str) -> None:
    values = {
        "scps": generate_scps([key_arn("us-east-1", "111122223333", 1)]),
        "alerts": alert_rules(),
    }
    args = {k: values.get(v, v) if isinstance(v, str) else v for k, v in kw.items()}
    with pytest.raises(ConfigurationError, match=message):
        plan_guardrails(**args)  # type: ignore[arg-type]


def test_cli_plan_then_migrate_execute(
    org: tuple[boto3.Session, str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    endpoint: str,
) -> None:
    session, root, account = org
    key = session.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["Arn"]
    policy_file = tmp_path / "policy.json"
    policy_file.write_text(
        json.dumps(
            build_key_policy(
                account=account,
                region="us-east-1",
                service="secretsmanager",
                admins=[f"arn:aws:iam::{account}:role/KeyAdmin"],
            )
        )
    )
    plan_file, journal = tmp_path / "plan.json", tmp_path / "journal.json"
    code = main(
        [
            "guardrails",
            "plan",
            "--approved-key",
            key,
            "--scp-target",
            root,
            "--alert-region",
            "us-east-1",
            "--config-region",
            "us-east-1",
            "--key-policy",
            f"{key}={policy_file}",
            "-o",
            str(plan_file),
        ]
    )
    assert code == 0, capsys.readouterr().err
    capsys.readouterr()
    run = ["migrate", "run", str(plan_file), "--journal", str(journal), "--endpoint-url", endpoint]
    assert main(run) == 0
    assert "dry run: nothing was changed" in capsys.readouterr().out
    assert main([*run, "--execute"]) == 0
    orgs = session.client("organizations", region_name="us-east-1")
    names = {p["Name"] for p in orgs.list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"]}
    assert "cmkguard-cmk-guardrails" in names
    # Bad input: one line, exit 2.
    capsys.readouterr()
    assert main(["guardrails", "plan", "--scp-target", root]) == 2
    assert "need --approved-key" in capsys.readouterr().err
    assert main(["guardrails", "plan", "--key-policy", "nofile"]) == 2
    assert "KEY_ARN=FILE" in capsys.readouterr().err
    assert main(["guardrails", "plan"]) == 2
    assert "nothing to deploy" in capsys.readouterr().err
