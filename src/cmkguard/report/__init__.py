"""Exports of audit reports and inventories: CSV, OCSF, ASFF, SARIF, pandas, HTML, SVG charts.

Each format is a function over the values it exports (an `AuditReport`, an `Inventory`, an
audit history); the values themselves know nothing of these formats, except that Jupyter's
`_repr_html_` and `to_dataframe()` call in here. JSON Schemas for the report and the exported
OCSF/ASFF/SARIF documents ship in `cmkguard/report/schemas/` (`schema` loads one).

```python
import cmkguard
import cmkguard.report as export

audit_report = cmkguard.audit(cmkguard.Inventory())
sarif = export.to_sarif(audit_report, artifact_uri="cmkguard-report.json")
print(sarif["version"], len(export.to_ocsf(audit_report)))
```
"""

from cmkguard.report._schemas import SCHEMAS, schema, to_html
from cmkguard.report.asff import report_to_asff as to_asff
from cmkguard.report.charts import BarChart, coverage_chart
from cmkguard.report.csv import CSV_COLUMNS
from cmkguard.report.csv import report_to_csv as to_csv
from cmkguard.report.frames import (
    inventory_to_dataframe,
    keys_to_dataframe,
    plan_to_dataframe,
    report_to_dataframe,
)
from cmkguard.report.ocsf import report_to_ocsf as to_ocsf
from cmkguard.report.sarif import (
    SarifLocation,
    SarifResult,
    github_problems,
    iac_to_sarif,
    sarif_log,
)
from cmkguard.report.sarif import report_to_sarif as to_sarif

__all__ = [  # noqa: RUF022 - plain sorted() order (tests/test_exported_members.py)
    "BarChart",
    "CSV_COLUMNS",
    "SCHEMAS",
    "SarifLocation",
    "SarifResult",
    "coverage_chart",
    "github_problems",
    "iac_to_sarif",
    "inventory_to_dataframe",
    "keys_to_dataframe",
    "plan_to_dataframe",
    "report_to_dataframe",
    "sarif_log",
    "schema",
    "to_asff",
    "to_csv",
    "to_html",
    "to_ocsf",
    "to_sarif",
]
