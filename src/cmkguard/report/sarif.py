"""SARIF 2.1.0 export for code-scanning dashboards (GitHub code scanning, Azure DevOps).

Two layers, so that every cmkguard capability writes the same SARIF:

- `sarif_log(results, ...)` turns `SarifResult` values (a rule id, a severity, a message, a
  fingerprint and a `SarifLocation`: a file, a line and the cloud resource's names) into a log.
- `report_to_sarif(report)` does that for an audit, `iac_to_sarif(report)` for an
  infrastructure-code check. Cloud findings have no source file, so each audit result points
  at a stable artifact - the JSON report (or inventory) the run wrote, `artifact_uri` - at the
  line of that finding in it, and names the resource and key ARNs as logical locations.

GitHub's ingestion rules followed here (docs.github.com, "SARIF support for code scanning"):
every result has a `physicalLocation` with a relative `artifactLocation.uri` and a
`region.startLine`; every rule carries `properties.security-severity` (a score GitHub maps to
critical/high/medium/low), a `security` tag and help text (the catalogue's remediation);
results carry `partialFingerprints` (our stable fingerprint, so alerts match across runs);
`runAutomationDetails.id` keeps the audit's and the IaC check's uploads apart.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import attrs

from cmkguard._version import __version__
from cmkguard.auditing.catalogue import FINDING_CATALOGUE
from cmkguard.severity import Severity

if TYPE_CHECKING:
    from cmkguard.auditing.finding import Finding
    from cmkguard.auditing.report import AuditReport
    from cmkguard.iac.values import IacReport

__all__ = [
    "FINGERPRINT_KEY",
    "LEVEL",
    "SARIF_SCHEMA_URI",
    "SECURITY_SEVERITY",
    "SarifLocation",
    "SarifResult",
    "artifact_path",
    "finding_lines",
    "github_problems",
    "iac_to_sarif",
    "report_to_sarif",
    "sarif_log",
    "sarif_rule",
]

SARIF_SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
"""The `$schema` a log names (the schema ships as `cmkguard.report.schema("sarif-2.1.0")`)."""

LEVEL: Mapping[Severity, str] = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
"""The SARIF `level` of each severity."""

SECURITY_SEVERITY: Mapping[Severity, str] = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    # GitHub reads 0.1-3.9 as "low" and shows a score of 0.0 as no severity at all, so
    # informational rules get the lowest score that still ranks below every real finding.
    Severity.INFO: "0.1",
}
"""The `properties.security-severity` score of each severity (GitHub: >= 9.0 critical,
7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low)."""

FINGERPRINT_KEY = "cmkguard/v1"
"""The `partialFingerprints` key of our stable finding fingerprint."""

_URI_SCHEME = re.compile(r"^[a-zA-Z][\w+.-]*:")


def _strs(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(str(v) for v in values)


def _props(values: Mapping[str, Any]) -> dict[str, Any]:
    return dict(values)


@attrs.frozen
class SarifLocation:
    """Where a result is: a file and a line in it, and the names of the cloud resource.

    `uri` is relative to the repository root (GitHub resolves it there), with `/` separators.
    `logical_names` are the fully qualified names of what the result is about (resource ARN,
    key ARN, Terraform address...), most specific first, each given once; `display_name` is
    the short name people know (alias, DB identifier, secret name).

    Raises:
        ValueError: an absolute or scheme-qualified `uri`, or a `start_line` below 1.
    """

    uri: str
    start_line: int = 1
    logical_names: tuple[str, ...] = attrs.field(default=(), converter=_strs)
    display_name: str | None = None

    def __attrs_post_init__(self) -> None:
        if not self.uri or self.uri.startswith("/") or "\\" in self.uri:
            raise ValueError(f"SARIF artifact uri must be a relative /-path, got {self.uri!r}")
        if _URI_SCHEME.match(self.uri):
            raise ValueError(f"SARIF artifact uri must be a relative /-path, got {self.uri!r}")
        if self.start_line < 1:
            raise ValueError(f"SARIF start_line must be >= 1, got {self.start_line}")

    def to_sarif(self) -> dict[str, Any]:
        """The SARIF `location` object."""
        location: dict[str, Any] = {
            "physicalLocation": {
                "artifactLocation": {"uri": self.uri, "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": self.start_line},
            }
        }
        names = list(dict.fromkeys(n for n in self.logical_names if n))
        if names:
            logical = [{"fullyQualifiedName": name, "kind": "resource"} for name in names]
            if self.display_name:
                logical[0]["name"] = self.display_name
            location["logicalLocations"] = logical
        return location


@attrs.frozen
class SarifResult:
    """One result for `sarif_log`: a rule, a severity, a message, a location, a fingerprint."""

    rule_id: str
    severity: Severity
    message: str
    location: SarifLocation
    fingerprint: str
    suppressed: bool = False
    suppression_reason: str | None = None
    properties: Mapping[str, Any] = attrs.field(factory=dict, converter=_props)

    def to_sarif(self, rule_index: int) -> dict[str, Any]:
        """The SARIF `result` object (`rule_index`: the rule's place in the driver's rules)."""
        result: dict[str, Any] = {
            "ruleId": self.rule_id,
            "ruleIndex": rule_index,
            "level": LEVEL[self.severity],
            "message": {"text": self.message},
            "locations": [self.location.to_sarif()],
            "partialFingerprints": {FINGERPRINT_KEY: self.fingerprint},
            "properties": {"severity": self.severity.value, **self.properties},
        }
        if self.suppressed:
            result["suppressions"] = [
                {
                    "kind": "external",
                    "status": "accepted",
                    "justification": self.suppression_reason or "",
                }
            ]
        return result


def _rule_name(rule_id: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[^a-zA-Z0-9]+", rule_id) if part)


def sarif_rule(rule_id: str, severity: Severity | None = None) -> dict[str, Any]:
    """The SARIF `reportingDescriptor` of a rule: title, rationale, remediation as help.

    `severity` is used when the rule is not in `rules` (then the descriptor is still complete
    and valid, with a generic help text); by default the catalogue's (`FINDING_CATALOGUE`) is.
    """
    spec = FINDING_CATALOGUE.get(rule_id)
    level = spec.severity if spec else (severity or Severity.MEDIUM)
    title = spec.title if spec else rule_id
    rationale = spec.rationale if spec else title
    remediation = spec.remediation if spec else "See the cmkguard finding catalogue."
    tags = ["security", "kms", "encryption"]
    if spec:
        tags.append(f"scope:{spec.scope}")
    return {
        "id": rule_id,
        "name": _rule_name(rule_id),
        "shortDescription": {"text": title[:1024]},
        "fullDescription": {"text": rationale[:1024]},
        "help": {
            "text": f"{rationale}\n\nRemediation: {remediation}",
            "markdown": f"**{title}**\n\n{rationale}\n\n**Remediation:** {remediation}",
        },
        "defaultConfiguration": {"level": LEVEL[level]},
        "properties": {
            "security-severity": SECURITY_SEVERITY[level],
            "tags": tags,
            "precision": "high",
        },
    }


def sarif_log(
    results: Iterable[SarifResult],
    *,
    tool_version: str | None = None,
    category: str | None = None,
    artifacts: Mapping[str, str] | None = None,
    properties: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A SARIF 2.1.0 log with one run of cmkguard over `results`.

    Args:
        results: what was found, each with its location.
        tool_version: the driver's version (default: this cmkguard's).
        category: the `automationDetails.id` category, which GitHub uses to keep uploads of
            different analyses (the audit, the IaC check, one per account...) apart.
        artifacts: artifact uri -> description, listed in the run's `artifacts`.
        properties: the run's `properties` (the audit puts its KPI completeness there).

    Returns:
        The log as a JSON-able dict; it validates against the SARIF 2.1.0 schema and follows
        GitHub code scanning's requirements.
    """
    listed = list(results)
    severities: dict[str, Severity] = {}
    for r in listed:
        severities.setdefault(r.rule_id, r.severity)
    used = sorted(severities)
    index = {rid: i for i, rid in enumerate(used)}
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "cmkguard",
                "version": tool_version or __version__,
                "semanticVersion": __version__,
                "informationUri": "https://github.com/cmkguard/cmkguard",
                "rules": [sarif_rule(rid, severities[rid]) for rid in used],
            }
        },
        "results": [r.to_sarif(index[r.rule_id]) for r in listed],
        "columnKind": "unicodeCodePoints",
    }
    if category:
        # GitHub: an id ending in "/" is a category only (a new run id per upload).
        run["automationDetails"] = {"id": f"{category.rstrip('/')}/"}
    if artifacts:
        run["artifacts"] = [
            {"location": {"uri": uri, "uriBaseId": "%SRCROOT%"}, "description": {"text": text}}
            for uri, text in artifacts.items()
        ]
    if properties:
        run["properties"] = dict(properties)
    return {"version": "2.1.0", "$schema": SARIF_SCHEMA_URI, "runs": [run]}


def finding_lines(report_json: str) -> dict[str, int]:
    """Fingerprint -> 1-based line of that finding's `"fingerprint"` entry in `report_json`.

    `report_json` is the text `AuditReport.to_json()` wrote (indented, so one entry a line);
    a compact one-line report puts every finding on line 1.
    """
    lines: dict[str, int] = {}
    pattern = re.compile(r'"fingerprint":\s*"([0-9a-f]+)"')
    for number, line in enumerate(report_json.splitlines(), start=1):
        for match in pattern.finditer(line):
            lines.setdefault(match.group(1), number)
    return lines


def _audit_location(f: Finding, uri: str, line: int) -> SarifLocation:
    names = tuple(n for n in (f.resource_arn, f.key_arn) if n) or (f.target,)
    return SarifLocation(uri=uri, start_line=line, logical_names=names, display_name=f.name)


def _audit_message(f: Finding) -> str:
    name = f.name
    return f"{name}: {f.message}" if name and name not in f.message else f.message


def report_to_sarif(
    report: AuditReport,
    *,
    artifact_uri: str = "cmkguard-report.json",
    report_json: str | None = None,
    category: str = "cmkguard/audit",
) -> dict[str, Any]:
    """The audit's findings as a SARIF log, every result located in the saved JSON report.

    Args:
        report: the audit.
        artifact_uri: where the run saved the report (or the inventory) the findings come
            from, relative to the repository root: the stable artifact every result points at.
            An absolute path under the working directory is made relative to it.
        report_json: the text saved at `artifact_uri`, to point each result at the line of its
            finding (default: `report.to_json()`, what `cmkguard audit --format json` writes;
            any other text, an inventory for instance, puts every result on line 1).
        category: see `sarif_log`.

    Raises:
        ValueError: an `artifact_uri` that cannot be made relative (outside the working
            directory, or a URL).

    Example:
        >>> import cmkguard
        >>> from cmkguard.report import to_sarif
        >>> log = to_sarif(cmkguard.audit(cmkguard.Inventory()), artifact_uri="audit.json")
        >>> (run,) = log["runs"]
        >>> run["automationDetails"]
        {'id': 'cmkguard/audit/'}
    """
    uri = artifact_path(artifact_uri)
    text = report_json if report_json is not None else report.to_json()
    lines = finding_lines(text)
    results = [
        SarifResult(
            rule_id=f.rule_id,
            severity=f.severity,
            message=_audit_message(f),
            location=_audit_location(f, uri, lines.get(f.fingerprint, 1)),
            fingerprint=f.fingerprint,
            suppressed=f.suppressed,
            suppression_reason=f.suppression_reason,
            properties={"remediation": f.remediation, "target": f.target, **_where(f)},
        )
        for f in report.findings
    ]
    return sarif_log(
        results,
        tool_version=report.tool_version or None,
        category=category,
        artifacts={uri: "cmkguard audit report (JSON) the findings were exported from"},
        properties={"completeness": report.kpis.completeness.to_dict()},
    )


def _where(f: Finding) -> dict[str, str]:
    where = {
        "account": f.account,
        "region": f.region,
        "resourceType": f.resource_type,
        "keyArn": f.key_arn,
    }
    return {k: v for k, v in where.items() if v}


def artifact_path(path: str) -> str:
    """`path` as a SARIF artifact URI: relative to the working directory, `/`-separated.

    Raises:
        ValueError: a path outside the working directory, or a URL.
    """
    if _URI_SCHEME.match(path) and not re.match(r"^[a-zA-Z]:[\\/]", path):
        raise ValueError(f"SARIF artifact must be a file path, not a URL: {path!r}")
    p = Path(path)
    if p.is_absolute():
        try:
            p = p.resolve().relative_to(Path.cwd().resolve())
        except ValueError:
            raise ValueError(
                f"SARIF artifact {path!r} is outside the working directory "
                f"(GitHub resolves artifact paths against the repository root)"
            ) from None
    parts = [part for part in PurePosixPath(*p.parts).parts if part != "."]
    if not parts or ".." in parts:
        raise ValueError(f"SARIF artifact must be a path inside the repository, got {path!r}")
    return "/".join(parts)


def _iac_uri(path: str) -> str:
    try:
        return artifact_path(path)
    except ValueError:
        # A file outside the checkout: keep its name so the log stays valid and readable.
        return PurePosixPath(Path(path).name).as_posix()


def iac_to_sarif(report: IacReport, *, category: str = "cmkguard/iac") -> dict[str, Any]:
    """An infrastructure-code check as a SARIF 2.1.0 log for pull-request annotations.

    Each result has a physical location (the file, relative to the working directory, and the
    line of the resource's declaration: in a plan JSON, the line of its `resource_changes`
    entry) and a logical one (the Terraform address or CloudFormation logical id).
    """
    results: list[SarifResult] = []
    files: dict[str, str] = {}
    for resource in report.resources:
        uri = _iac_uri(resource.file)
        files.setdefault(uri, f"{resource.source_format.value} checked by cmkguard iac check")
        location = SarifLocation(
            uri=uri,
            start_line=resource.line or 1,
            logical_names=(resource.address,),
            display_name=resource.address.rsplit(".", 1)[-1],
        )
        results.extend(
            SarifResult(
                rule_id=f.rule_id,
                severity=f.severity,
                message=f.message,
                location=location,
                fingerprint=f.fingerprint,
                suppressed=f.suppressed,
                suppression_reason=f.suppression_reason,
                properties={
                    "remediation": f.remediation,
                    "resource_type": resource.resource_type,
                    "key_class": resource.key_class.name.lower(),
                },
            )
            for f in resource.findings
        )
    return sarif_log(
        results, tool_version=report.tool_version or None, category=category, artifacts=files
    )


# -- GitHub code scanning's ingestion rules ---------------------------------------------------
# From docs.github.com "SARIF support for code scanning" (required properties and upload
# limits). Written by hand: no maintained library checks GitHub's subset of SARIF.
_GITHUB_LIMITS = {"runs": 20, "results": 25_000, "rules": 25_000, "locations": 1_000, "tags": 20}


def _rule_problems(i: int, rule: Mapping[str, Any]) -> list[str]:
    where = f"rules[{i}]"
    problems = [] if rule.get("id") else [f"{where}: no id"]
    for field in ("shortDescription", "fullDescription"):
        text = (rule.get(field) or {}).get("text", "")
        if not text or len(text) > 1024:
            problems.append(f"{where}.{field}.text: missing or over 1024 characters")
    if not (rule.get("help") or {}).get("text"):
        problems.append(f"{where}.help.text: missing (GitHub shows it as the alert's help)")
    props = rule.get("properties") or {}
    score = props.get("security-severity")
    try:
        valid = isinstance(score, str) and 0.0 < float(score) <= 10.0
    except ValueError:
        valid = False
    if not valid:
        problems.append(f"{where}: security-severity {score!r} is not a string in (0.0, 10.0]")
    if len(props.get("tags", ())) > _GITHUB_LIMITS["tags"]:
        problems.append(f"{where}: more than {_GITHUB_LIMITS['tags']} tags")
    return problems


def _location_problems(where: str, location: Mapping[str, Any]) -> list[str]:
    physical = location.get("physicalLocation") or {}
    uri = (physical.get("artifactLocation") or {}).get("uri")
    problems = []
    if not uri:
        problems.append(f"{where}: no physicalLocation.artifactLocation.uri")
    elif uri.startswith("/") or (_URI_SCHEME.match(uri) and not uri.startswith("file:")):
        problems.append(f"{where}: artifact uri {uri!r} is not relative to the repository root")
    start = (physical.get("region") or {}).get("startLine")
    if not isinstance(start, int) or start < 1:
        problems.append(f"{where}: no region.startLine >= 1")
    return problems


def _result_problems(i: int, result: Mapping[str, Any], rule_ids: list[str]) -> list[str]:
    where = f"results[{i}]"
    problems = []
    rule_id = result.get("ruleId")
    if not rule_id or not (result.get("message") or {}).get("text"):
        problems.append(f"{where}: ruleId and message.text are required")
    index = result.get("ruleIndex")
    if index is not None and (index >= len(rule_ids) or rule_ids[index] != rule_id):
        problems.append(f"{where}: ruleIndex {index} does not name rule {rule_id!r}")
    if rule_id not in rule_ids:
        problems.append(f"{where}: rule {rule_id!r} is not in the driver's rules")
    locations = result.get("locations") or []
    if not locations or len(locations) > _GITHUB_LIMITS["locations"]:
        problems.append(f"{where}: needs 1 to {_GITHUB_LIMITS['locations']} locations")
    for j, location in enumerate(locations):
        problems.extend(_location_problems(f"{where}.locations[{j}]", location))
    fingerprints = result.get("partialFingerprints") or {}
    if not fingerprints or not all(isinstance(v, str) for v in fingerprints.values()):
        problems.append(f"{where}: no partialFingerprints (alerts would not match across runs)")
    return problems


def github_problems(log: Mapping[str, Any]) -> list[str]:
    """What GitHub code scanning would refuse or mishandle in `log` (empty: none).

    Checks the properties GitHub documents as required ("SARIF support for code scanning"):
    version 2.1.0; a driver name; rules with an id, short and full descriptions (at most 1024
    characters), help text and a `security-severity` between 0.0 (excluded) and 10.0; every
    result with a rule id known to the driver, a message, one or more physical locations with
    a repository-relative artifact URI and a start line, and `partialFingerprints`; and the
    upload limits (20 runs, 25,000 results and rules per run, 20 tags per rule). It complements
    validation against the SARIF 2.1.0 JSON schema (`cmkguard.report.schema("sarif-2.1.0")`).

    Example:
        >>> import cmkguard
        >>> from cmkguard.report import to_sarif
        >>> from cmkguard.report import github_problems
        >>> github_problems(to_sarif(cmkguard.audit(cmkguard.Inventory())))
        []
    """
    problems = [] if log.get("version") == "2.1.0" else ["version must be 2.1.0"]
    runs = log.get("runs") or []
    if not runs or len(runs) > _GITHUB_LIMITS["runs"]:
        problems.append(f"needs 1 to {_GITHUB_LIMITS['runs']} runs")
    for r, run in enumerate(runs):
        driver = (run.get("tool") or {}).get("driver") or {}
        if not driver.get("name"):
            problems.append(f"runs[{r}]: tool.driver.name is required")
        rules = driver.get("rules") or []
        results = run.get("results") or []
        if len(rules) > _GITHUB_LIMITS["rules"] or len(results) > _GITHUB_LIMITS["results"]:
            problems.append(f"runs[{r}]: over GitHub's 25,000 rules or results per run")
        rule_ids = [rule.get("id") for rule in rules]
        for i, rule in enumerate(rules):
            problems.extend(f"runs[{r}].{p}" for p in _rule_problems(i, rule))
        for i, result in enumerate(results):
            problems.extend(f"runs[{r}].{p}" for p in _result_problems(i, result, rule_ids))
    return problems
