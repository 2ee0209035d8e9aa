"""``cmkguard guardrails scp|key-policy|alerts|config``: generate guardrails (offline).

Every sub-command prints one guardrail set in ``--format json|cloudformation|terraform``. The
notes on what an SCP cannot do, and what could not be verified offline, go to stderr (the
JSON on stdout stays exactly the documents). Bad input: one line on stderr, exit 2.
"""

from __future__ import annotations

import argparse
import sys

from cmkguard.cli._common import EXIT_OK, open_output
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
    """Register ``cmkguard guardrails``."""
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
