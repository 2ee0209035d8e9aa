"""Plans that deploy guardrails, run by the migration executor (pure: no AWS calls).

`plan_guardrails` turns generated guardrails into a `MigrationPlan`: create each SCP and attach
it to the targets, put the EventBridge rules (and their target), put the AWS Config rules, and
put reviewed key policies on existing keys. The same plan is reviewed (`print(plan)`), stored
as JSON and run with `cmkguard.execute` (dry run by default, journaled, resumable:
`CreatePolicy` and `AttachPolicy` are adopted when their effect exists, the puts are
idempotent).

The key-policy lock-out check runs at planning time with cmkguard's analyser: a policy that
leaves nobody `kms:PutKeyPolicy` blocks the plan, and so does a policy that makes the key
public. `BypassPolicyLockoutSafetyCheck` is always false, so KMS checks the caller too.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from cmkguard.errors import ConfigurationError
from cmkguard.guardrails import MAX_SCPS_PER_TARGET, AlertRule, ConfigRule, ScpSet
from cmkguard.migrate.model import (
    MigrationPlan,
    MigrationStep,
    PreflightItem,
    PreflightLevel,
    StepKind,
    StepPhase,
)
from cmkguard.policy import analyze_key_policy

__all__ = ["ALERT_TARGET_ID", "GUARDRAILS_TARGET", "plan_guardrails"]

GUARDRAILS_TARGET = "guardrails"
"""The `target_key` of a guardrail plan (it moves no resource onto a key)."""

ALERT_TARGET_ID = "cmkguard-alert"
"""The EventBridge target id the alert rules send to."""

_ORG_REGION = "us-east-1"  # Organizations is global: its endpoint lives in us-east-1
_POLICY_ID_REF = "$policy-id"  # resolved by the executor (cmkguard.migrate.aws_guardrails)


def _check_target(target: str) -> str:
    # Root (r-), OU (ou-) or account (12 digits): what AttachPolicy takes.
    if (
        (target.startswith("r-") and len(target) > 2)
        or target.startswith("ou-")
        or (len(target) == 12 and target.isdigit())
    ):
        return target
    raise ConfigurationError(
        f"SCP target {target!r} is not a root (r-...), OU (ou-...) or account id"
    )


def _scp_steps(scps: ScpSet, targets: Sequence[str]) -> list[MigrationStep]:
    steps: list[MigrationStep] = []
    for policy in scps.policies:
        create = MigrationStep(
            id=f"scp/{policy.name}/01-create",
            kind=StepKind.CALL,
            phase=StepPhase.PREPARE,
            service="organizations",
            region=_ORG_REGION,
            operation="CreatePolicy",
            params={
                "Name": policy.name,
                "Description": policy.description[:512],
                "Type": "SERVICE_CONTROL_POLICY",
                "Content": policy.text,
            },
            description=f"create SCP {policy.name} ({policy.size} characters)",
            verify="the policy exists with this content",
            adopt={"probe": "organizations-policy", "name": policy.name, "content": policy.text},
        )
        steps.append(create)
        for target in targets:
            steps.append(
                MigrationStep(
                    id=f"scp/{policy.name}/02-attach-{target}",
                    kind=StepKind.CALL,
                    phase=StepPhase.CUTOVER,
                    service="organizations",
                    region=_ORG_REGION,
                    operation="AttachPolicy",
                    params={"PolicyId": {_POLICY_ID_REF: policy.name}, "TargetId": target},
                    resource_arn=target,
                    description=f"attach SCP {policy.name} to {target} (takes effect at once)",
                    depends_on=(create.id,),
                    adopt={
                        "probe": "organizations-policy-attached",
                        "name": policy.name,
                        "target": target,
                    },
                )
            )
    return steps


def _alert_steps(
    rules: Sequence[AlertRule], regions: Sequence[str], target_arn: str | None
) -> list[MigrationStep]:
    steps: list[MigrationStep] = []
    for region in regions:
        for rule in rules:
            put = MigrationStep(
                id=f"alert/{region}/{rule.name}/01-put-rule",
                kind=StepKind.CALL,
                phase=StepPhase.PREPARE,
                service="events",
                region=region,
                operation="PutRule",
                params={
                    "Name": rule.name,
                    "Description": rule.description[:512],
                    "EventPattern": json.dumps(dict(rule.pattern), sort_keys=True),
                    "State": "ENABLED",
                },
                description=f"EventBridge rule {rule.name} in {region}",
            )
            steps.append(put)
            if target_arn:
                steps.append(
                    MigrationStep(
                        id=f"alert/{region}/{rule.name}/02-put-target",
                        kind=StepKind.CALL,
                        phase=StepPhase.PREPARE,
                        service="events",
                        region=region,
                        operation="PutTargets",
                        params={
                            "Rule": rule.name,
                            "Targets": [{"Id": ALERT_TARGET_ID, "Arn": target_arn}],
                        },
                        description=f"send {rule.name} to {target_arn}",
                        depends_on=(put.id,),
                    )
                )
    return steps


def _config_steps(rules: Sequence[ConfigRule]) -> list[MigrationStep]:
    return [
        MigrationStep(
            id=f"config/{rule.region}/{rule.name}/01-put",
            kind=StepKind.CALL,
            phase=StepPhase.PREPARE,
            service="config",
            region=rule.region,
            operation="PutConfigRule",
            params={"ConfigRule": rule.to_dict()},
            description=f"AWS Config rule {rule.name} ({rule.identifier}) in {rule.region}",
            precondition="AWS Config is recording in the region",
        )
        for rule in rules
    ]


def _key_policy_checks(
    key_arn: str, policy: Mapping[str, Any]
) -> tuple[list[PreflightItem], MigrationStep]:
    parts = key_arn.split(":")
    if len(parts) != 6 or parts[2] != "kms" or not parts[5].startswith("key/"):
        raise ConfigurationError(f"key {key_arn!r} is not a KMS key ARN")
    region, account = parts[3], parts[4]
    analysis = analyze_key_policy(policy, key_account=account, key_arn=key_arn)
    items: list[PreflightItem] = []
    admins = analysis.principals_allowed("kms:PutKeyPolicy")
    if not admins:
        items.append(
            PreflightItem(
                "key-policy-lockout",
                PreflightLevel.BLOCKING,
                key_arn,
                "nobody keeps kms:PutKeyPolicy: the key could never be managed again",
            )
        )
    else:
        items.append(
            PreflightItem(
                "key-policy-lockout",
                PreflightLevel.PASSED,
                key_arn,
                f"kms:PutKeyPolicy kept by {', '.join(sorted(admins))}",
            )
        )
    if analysis.is_public:
        items.append(
            PreflightItem(
                "key-policy-public",
                PreflightLevel.BLOCKING,
                key_arn,
                "the policy makes the key public",
            )
        )
    for entity in sorted(analysis.external_access - {"*"}):
        items.append(
            PreflightItem(
                "key-policy-external",
                PreflightLevel.WARNING,
                key_arn,
                f"{entity} gets access from outside account {account}: review it",
            )
        )
    step = MigrationStep(
        id=f"key/{parts[5].removeprefix('key/')}/01-put-key-policy",
        kind=StepKind.CALL,
        phase=StepPhase.CUTOVER,
        service="kms",
        region=region,
        operation="PutKeyPolicy",
        params={
            "KeyId": key_arn,
            "PolicyName": "default",
            "Policy": json.dumps(dict(policy), separators=(",", ":")),
            "BypassPolicyLockoutSafetyCheck": False,
        },
        resource_arn=key_arn,
        description=f"put the reviewed key policy on {key_arn}",
        precondition="the caller keeps kms:PutKeyPolicy under the new policy (KMS checks it)",
    )
    return items, step


def plan_guardrails(
    *,
    scps: ScpSet | None = None,
    scp_targets: Iterable[str] = (),
    alerts: Sequence[AlertRule] = (),
    alert_regions: Iterable[str] = (),
    alert_target_arn: str | None = None,
    config_rules: Sequence[ConfigRule] = (),
    key_policies: Mapping[str, Mapping[str, Any]] | None = None,
) -> MigrationPlan:
    """A reviewable plan deploying guardrails; run it with `cmkguard.execute`.

    Args:
        scps: From `cmkguard.guardrails.generate_scps`; created in Organizations (run from the
            management account or a delegated administrator).
        scp_targets: Root (`r-...`), OU (`ou-...`) or account ids each SCP is attached to.
        alerts: From `alert_rules`; put in each of `alert_regions`.
        alert_regions: Where the alert rules go (CloudTrail events stay in their region).
        alert_target_arn: An SNS topic, Lambda... the rules send to (optional).
        config_rules: From `config_rules` (each carries its region).
        key_policies: Key ARN -> reviewed key policy to put on that existing key.

    Raises:
        ConfigurationError: nothing to deploy, a malformed target or key ARN, alerts without a
            region, or SCPs given without targets.
    """
    targets = [_check_target(t) for t in dict.fromkeys(scp_targets)]
    regions = list(dict.fromkeys(alert_regions))
    keys = dict(key_policies or {})
    if scps is not None and not targets:
        raise ConfigurationError("SCPs need at least one target (root, OU or account id)")
    if alerts and not regions:
        raise ConfigurationError("alert rules need at least one region")
    steps: list[MigrationStep] = []
    preflight: list[PreflightItem] = []
    if scps is not None:
        steps += _scp_steps(scps, targets)
        preflight.append(
            PreflightItem(
                "scp-quota",
                PreflightLevel.WARNING,
                ", ".join(targets),
                f"{len(scps.policies)} SCP(s) per target: a target holds at most "
                f"{MAX_SCPS_PER_TARGET} (FullAWSAccess included); not checked offline",
            )
        )
        preflight += [
            PreflightItem("scp-limits", PreflightLevel.WARNING, "SCPs", note)
            for note in scps.notes[:2]
        ]
    steps += _alert_steps(alerts, regions, alert_target_arn)
    steps += _config_steps(config_rules)
    for key_arn, policy in keys.items():
        items, step = _key_policy_checks(key_arn, policy)
        preflight += items
        steps.append(step)
    if not steps:
        raise ConfigurationError("nothing to deploy: give SCPs, alerts, Config rules or keys")
    return MigrationPlan(
        target_key=GUARDRAILS_TARGET,
        resources=(*targets, *keys),
        steps=tuple(steps),
        preflight=tuple(preflight),
    )
