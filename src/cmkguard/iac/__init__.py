"""Infrastructure-code checks before deploy: Terraform plans and CloudFormation templates.

Pure (no AWS calls) unless you pass `describe=describe_with(access)` from
`cmkguard.iac.aws_keys`. Every declared RDS instance, Aurora cluster and member, snapshot and
snapshot copy, Secrets Manager secret (and replica), KMS key and alias is classified as a scan
would classify it once deployed (`KeyClass`), and reported with the audit's finding ids.

```python
from cmkguard.iac import check_iac
report = check_iac(["plan.json", "templates/"], account="111122223333")
for r in report.resources:
    print(r.file, r.line, r.address, r.key_class, [f.rule_id for f in r.findings])
```
"""

from cmkguard.iac.check import IAC_SUFFIXES, check_iac, check_text
from cmkguard.iac.classify import Describe, KeyFacts, Verdict, classify_literal
from cmkguard.iac.cloudformation import CLOUDFORMATION_TYPES
from cmkguard.iac.findings import DEFAULT_MIN_DELETION_WINDOW_DAYS
from cmkguard.iac.terraform import TERRAFORM_TYPES
from cmkguard.iac.values import (
    IAC_SCHEMA_VERSION,
    IacFormat,
    IacKeyUse,
    IacReport,
    IacResource,
    key_class_name,
)

# Plain code-point order, as tests/test_exported_members.py asks (ruff's isort-style order
# would put the constants first).
__all__ = [  # noqa: RUF022
    "CLOUDFORMATION_TYPES",
    "DEFAULT_MIN_DELETION_WINDOW_DAYS",
    "Describe",
    "IAC_SCHEMA_VERSION",
    "IAC_SUFFIXES",
    "IacFormat",
    "IacKeyUse",
    "IacReport",
    "IacResource",
    "KeyFacts",
    "TERRAFORM_TYPES",
    "Verdict",
    "check_iac",
    "check_text",
    "classify_literal",
    "key_class_name",
]
