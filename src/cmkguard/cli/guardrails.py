"""`cmkguard guardrails scp|key-policy|alerts|config|plan`: generate guardrails (offline).

Every generator prints one guardrail set in `--format json|cloudformation|terraform`. The
notes on what an SCP cannot do, and what could not be verified offline, go to stderr (the
JSON on stdout stays exactly the documents). `plan` writes a deployment plan that
`cmkguard migrate run` runs (dry run by default, journaled). Bad input: one line on
stderr, exit 2.
"""

from __future__ import annotations

import argparse
import json
import sys

from cmkguard.cli._common import (
    EXIT_FINDINGS,
    EXIT_OK,
    UsageError,
    check_output,
    load_document,
    open_output,
)
from cmkguard.guardrails import (
    FORMATS,
    MANDATORY_TAGS,
    MAX_SCPS_PER_TARGET,
    SERVICES,
    alert_rules,
    build_key_policy,
    config_rules,
    generate_scps,
    key_tags,
    parse_tag,
    render_alerts,
    render_config_rules,
    render_key,
    render_scps,
)
from cmkguard.migrate import plan_guardrails

__all__ = ["register"]


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=FORMATS, default="json", help="default: json")
    parser.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")


def _approved(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--approved-key",
        action="extend",
        nargs="+",
        required=True,
        metavar="ARN",
        help="an approved key ARN or alias pattern (alias/cmk/*); repeatable, never key/*",
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `cmkguard guardrails`."""
    parser = subparsers.add_parser(
        "guardrails",
        help="generate SCPs, key policies, alert and Config rules (offline)",
        description="Guardrails that keep new resources on customer-managed keys "
        "(docs/guardrails.md). Never calls AWS.",
    )
    sub = parser.add_subparsers(dest="guardrails_command", metavar="SUBCOMMAND")
    sub.required = True

    scp = sub.add_parser("scp", help="service control policies (a JSON array of documents)")
    _approved(scp)
    scp.add_argument(
        "--break-glass",
        action="extend",
        nargs="+",
        default=[],
        metavar="ARN",
        help="role ARN pattern exempted from the SCPs (ArnNotLike aws:PrincipalArn)",
    )
    scp.add_argument(
        "--no-null-safe",
        action="store_true",
        help="leave out the Deny of RDS requests without rds:StorageEncrypted",
    )
    scp.add_argument(
        "--allow-aws-managed-secret-writes",
        action="store_true",
        help="leave out the Deny of encryption with aws/secretsmanager (during a migration)",
    )
    scp.add_argument(
        "--max-policies",
        type=int,
        default=MAX_SCPS_PER_TARGET,
        help=f"SCPs the target can still take (default {MAX_SCPS_PER_TARGET})",
    )
    _common(scp)
    scp.set_defaults(handler=_run_scp)

    key = sub.add_parser("key-policy", help="a least-privilege key policy (one document)")
    key.add_argument("--account", required=True, help="the key's 12-digit account id")
    key.add_argument("--region", required=True, help="the key's region")
    key.add_argument("--service", required=True, choices=SERVICES)
    key.add_argument("--admin", action="extend", nargs="+", default=[], metavar="ARN")
    key.add_argument("--user", action="extend", nargs="+", default=[], metavar="ARN")
    key.add_argument("--external-account", action="extend", nargs="+", default=[], metavar="ID")
    key.add_argument("--org-id", help="let this organization use the key through the service")
    key.add_argument(
        "--tag",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a key tag (CloudFormation/Terraform); mandatory: " + ", ".join(MANDATORY_TAGS),
    )
    key.add_argument(
        "--required-tag",
        action="append",
        metavar="KEY",
        help="replace the mandatory tag set (repeatable)",
    )
    key.add_argument("--alias", help="alias/<name> for the key (CloudFormation/Terraform)")
    _common(key)
    key.set_defaults(handler=_run_key)

    alerts = sub.add_parser("alerts", help="EventBridge rules for high-risk KMS events")
    alerts.add_argument("--name-prefix", default="cmkguard")
    _common(alerts)
    alerts.set_defaults(handler=_run_alerts)

    config = sub.add_parser("config", help="AWS Config managed rules for the approved keys")
    _approved(config)
    config.add_argument("--region", action="extend", nargs="+", required=True, metavar="REGION")
    _common(config)
    config.set_defaults(handler=_run_config)
    _register_plan(sub)


def _register_plan(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    plan = sub.add_parser(
        "plan",
        help="a deployment plan for `cmkguard migrate run` (SCPs, rules, key policies)",
        description="Plan the deployment of the guardrails: create and attach the SCPs, put "
        "the alert and Config rules, put reviewed key policies (lock-out checked). Run it with "
        "`cmkguard migrate run PLAN --journal J [--execute]`. Exit 1 when the plan is "
        "blocked.",
    )
    plan.add_argument(
        "--approved-key",
        action="extend",
        nargs="+",
        default=[],
        metavar="ARN",
        help="approved key ARN or alias pattern (for the SCPs and the Config rules)",
    )
    plan.add_argument(
        "--scp-target",
        action="extend",
        nargs="+",
        default=[],
        metavar="ID",
        help="root (r-...), OU (ou-...) or account id to attach the SCPs to",
    )
    plan.add_argument(
        "--break-glass",
        action="extend",
        nargs="+",
        default=[],
        metavar="ARN",
        help="role ARN pattern exempted from the SCPs",
    )
    plan.add_argument(
        "--alert-region",
        action="extend",
        nargs="+",
        default=[],
        metavar="REGION",
        help="put the EventBridge alert rules in this region",
    )
    plan.add_argument("--alert-target", metavar="ARN", help="where the alert rules send events")
    plan.add_argument(
        "--config-region",
        action="extend",
        nargs="+",
        default=[],
        metavar="REGION",
        help="put the AWS Config rules in this region",
    )
    plan.add_argument(
        "--key-policy",
        action="append",
        default=[],
        metavar="KEY_ARN=FILE",
        help="put the key policy in FILE on the key (repeatable)",
    )
    plan.add_argument("--output", "-o", metavar="FILE", help="write the plan JSON here")
    plan.set_defaults(handler=_run_plan)


def _run_scp(args: argparse.Namespace) -> int:
    scps = generate_scps(
        args.approved_key,
        break_glass=args.break_glass,
        null_safe=not args.no_null_safe,
        block_aws_managed_secret_writes=not args.allow_aws_managed_secret_writes,
        max_policies=args.max_policies,
    )
    text = render_scps(scps, args.format)
    with open_output(args.output) as out:
        out.write(text)
    for name, size in scps.sizes.items():
        print(f"note: {name}: {size} characters (limit 5120)", file=sys.stderr)
    for line in (*scps.notes, *scps.unverified):
        print(f"note: {line}", file=sys.stderr)
    return EXIT_OK


def _run_key(args: argparse.Namespace) -> int:
    policy = build_key_policy(
        account=args.account,
        region=args.region,
        service=args.service,
        admins=args.admin,
        users=args.user,
        external_accounts=args.external_account,
        org_id=args.org_id,
    )
    tags = []
    if args.format != "json" or args.tag:
        required = args.required_tag if args.required_tag is not None else MANDATORY_TAGS
        tags = key_tags(dict(parse_tag(t) for t in args.tag), required=required)
    text = render_key(policy, args.format, tags=tags, alias=args.alias)
    with open_output(args.output) as out:
        out.write(text)
    return EXIT_OK


def _run_alerts(args: argparse.Namespace) -> int:
    with open_output(args.output) as out:
        out.write(render_alerts(alert_rules(name_prefix=args.name_prefix), args.format))
    return EXIT_OK


def _run_config(args: argparse.Namespace) -> int:
    rules = config_rules(args.approved_key, regions=args.region)
    with open_output(args.output) as out:
        out.write(render_config_rules(rules, args.format))
    return EXIT_OK


def _key_policies(pairs: list[str]) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for pair in pairs:
        key, sep, path = pair.partition("=")
        if not sep or not key or not path:
            raise UsageError(f"--key-policy {pair!r} is not KEY_ARN=FILE")
        out[key] = load_document(path, "key policy", json.loads, kind="JSON key policy")
    return out


def _run_plan(args: argparse.Namespace) -> int:
    check_output(args.output)
    if (args.scp_target or args.config_region) and not args.approved_key:
        raise UsageError("--scp-target and --config-region need --approved-key")
    scps = (
        generate_scps(args.approved_key, break_glass=args.break_glass) if args.scp_target else None
    )
    plan = plan_guardrails(
        scps=scps,
        scp_targets=args.scp_target,
        alerts=alert_rules() if args.alert_region else (),
        alert_regions=args.alert_region,
        alert_target_arn=args.alert_target,
        config_rules=config_rules(args.approved_key, regions=args.config_region)
        if args.config_region
        else (),
        key_policies=_key_policies(args.key_policy),
    )
    with open_output(args.output) as out:
        out.write(plan.to_json() + "\n")
    print(plan, file=sys.stderr)
    return EXIT_OK if plan.executable else EXIT_FINDINGS
