"""Guardrails that keep an estate on customer-managed keys (pure generators, no AWS calls).

- `generate_scps`: service control policies refusing new RDS storage that is unencrypted or on
  `aws/rds`, and secrets off the approved keys; minified, measured, split (`ScpSet`).
- `build_key_policy`: a least-privilege key policy for an RDS or Secrets Manager CMK;
  `cross_account_read_statements` for sharing snapshots; `key_tags` for the mandatory tags.
- `alert_rules`: EventBridge patterns for high-risk KMS events and creations off CMKs;
  `validate_event_pattern` / `event_matches` for the pattern language.
- `config_rules`: AWS Config managed rules with parameters from the approved keys.
- `render_*`: each set as JSON documents, a CloudFormation template or Terraform JSON.

See docs/guardrails.md.
"""

from cmkguard.guardrails.alerts import (
    HIGH_RISK_KMS_EVENTS,
    RDS_CREATION_EVENTS,
    SECRET_KEY_EVENTS,
    AlertRule,
    alert_rules,
)
from cmkguard.guardrails.config_rule import (
    CONFIG_RULE_PARAMETERS,
    CONFIG_RULE_SCHEMA,
    ConfigRule,
    check_config_rule,
    config_rules,
)
from cmkguard.guardrails.event_pattern import event_matches, validate_event_pattern
from cmkguard.guardrails.key_policy import (
    ADMIN_ACTIONS,
    EXTERNAL_READ_ACTIONS,
    GRANT_ACTIONS,
    SERVICES,
    USE_ACTIONS,
    build_key_policy,
    cross_account_read_statements,
    via_service,
)
from cmkguard.guardrails.render import (
    FORMATS,
    render_alerts,
    render_config_rules,
    render_key,
    render_scps,
)
from cmkguard.guardrails.scp import (
    MAX_SCPS_PER_TARGET,
    RDS_STORAGE_ENCRYPTED_ACTIONS,
    SCP_MAX_CHARS,
    SCP_NOTES,
    SCP_UNVERIFIED,
    ApprovedKeys,
    ScpSet,
    ServiceControlPolicy,
    approved_keys,
    generate_scps,
    minified,
)
from cmkguard.guardrails.simulate import scp_denies
from cmkguard.guardrails.tags import MANDATORY_TAGS, key_tags, parse_tag

__all__ = [  # noqa: RUF022 - plain sorted() order (tests/test_exported_members.py)
    "ADMIN_ACTIONS",
    "AlertRule",
    "ApprovedKeys",
    "CONFIG_RULE_PARAMETERS",
    "CONFIG_RULE_SCHEMA",
    "ConfigRule",
    "EXTERNAL_READ_ACTIONS",
    "FORMATS",
    "GRANT_ACTIONS",
    "HIGH_RISK_KMS_EVENTS",
    "MANDATORY_TAGS",
    "MAX_SCPS_PER_TARGET",
    "RDS_CREATION_EVENTS",
    "RDS_STORAGE_ENCRYPTED_ACTIONS",
    "SCP_MAX_CHARS",
    "SCP_NOTES",
    "SCP_UNVERIFIED",
    "SECRET_KEY_EVENTS",
    "SERVICES",
    "ScpSet",
    "ServiceControlPolicy",
    "USE_ACTIONS",
    "alert_rules",
    "approved_keys",
    "build_key_policy",
    "check_config_rule",
    "config_rules",
    "cross_account_read_statements",
    "event_matches",
    "generate_scps",
    "key_tags",
    "minified",
    "parse_tag",
    "render_alerts",
    "render_config_rules",
    "render_key",
    "render_scps",
    "scp_denies",
    "validate_event_pattern",
    "via_service",
]
