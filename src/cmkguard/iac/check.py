"""Check infrastructure code: read files, tell their format, classify, report findings."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from cmkguard._version import __version__
from cmkguard.auditing.config import AuditPolicy
from cmkguard.errors import IacInputError
from cmkguard.iac._decl import Decl
from cmkguard.iac._jsonpos import key_lines
from cmkguard.iac.classify import Describe, Verdict, classify
from cmkguard.iac.cloudformation import Template, is_template, parse_template
from cmkguard.iac.findings import DEFAULT_MIN_DELETION_WINDOW_DAYS, resource_findings
from cmkguard.iac.terraform import is_plan, parse_plan
from cmkguard.iac.values import IacFormat, IacKeyUse, IacReport, IacResource

__all__ = ["IAC_SUFFIXES", "check_iac", "check_text"]

IAC_SUFFIXES = (".json", ".yaml", ".yml", ".template")
"""File names read when a directory is given."""


def check_iac(
    paths: Iterable[str | Path],
    *,
    account: str | None = None,
    region: str | None = None,
    parameters: Mapping[str, str] | None = None,
    policy: AuditPolicy | None = None,
    describe: Describe | None = None,
    min_deletion_window_days: int = DEFAULT_MIN_DELETION_WINDOW_DAYS,
) -> IacReport:
    """Check Terraform plans (JSON) and CloudFormation templates (JSON, YAML) before deploy.

    Every path is a file or a directory (searched recursively for `*.json`, `*.yaml`, `*.yml`,
    `*.template` files that are a plan or a template; other files there are skipped). A file given
    by name that cannot be read or is neither raises `cmkguard.IacInputError`.

    `account` is the deploying account (literal key ARNs of other accounts are cross-account;
    a plan that read `data.aws_caller_identity` supplies it), `region` the stack's region for
    CloudFormation pseudo parameters, `parameters` the values of stack parameters (otherwise
    their `Default`). `policy` is the audit policy (trusted accounts, rotation maximum, required
    tags, severity overrides). `describe` resolves literal key identifiers with `DescribeKey`
    (see `cmkguard.iac.aws_keys.describe_with`); without it literals are classified by form.
    """
    sources = ((file, _read(file), explicit) for file, explicit in _files(paths))
    return _run(sources, account, region, parameters, policy, describe, min_deletion_window_days)


def check_text(
    text: str,
    file: str = "<text>",
    *,
    account: str | None = None,
    region: str | None = None,
    parameters: Mapping[str, str] | None = None,
    policy: AuditPolicy | None = None,
    describe: Describe | None = None,
    min_deletion_window_days: int = DEFAULT_MIN_DELETION_WINDOW_DAYS,
) -> IacReport:
    """`check_iac` over one plan or template held in memory; `file` names it in the report."""
    return _run(
        [(file, text, True)],
        account,
        region,
        parameters,
        policy,
        describe,
        min_deletion_window_days,
    )


def _run(
    sources: Iterable[tuple[str, str, bool]],
    account: str | None,
    region: str | None,
    parameters: Mapping[str, str] | None,
    policy: AuditPolicy | None,
    describe: Describe | None,
    min_window: int,
) -> IacReport:
    policy = policy or AuditPolicy()
    resources: list[IacResource] = []
    files: list[str] = []
    accounts: set[str] = set()
    for file, text, explicit in sources:
        document = _decode(file, text, explicit)
        if document is None:
            continue
        files.append(file)
        decls, found_account = _declarations(file, text, document, account, region, parameters)
        used_account = account or found_account
        if used_account:
            accounts.add(used_account)
        resources += _checked(decls, used_account, describe, policy, min_window)
    return IacReport(
        tuple(resources),
        files=tuple(files),
        account=account or (next(iter(accounts)) if len(accounts) == 1 else None),
        tool_version=__version__,
    )


def _files(paths: Iterable[str | Path]) -> Iterator[tuple[str, bool]]:
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and child.suffix.lower() in IAC_SUFFIXES:
                    yield str(child), False
        else:
            yield str(raw), True


def _read(file: str) -> str:
    try:
        return Path(file).read_text(encoding="utf-8")
    except OSError as exc:
        raise IacInputError(f"cannot read {file}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise IacInputError(f"cannot read {file}: not UTF-8 text ({exc.reason})") from None


def _decode(file: str, text: str, explicit: bool) -> Any:
    """The decoded document, `None` for a file found in a directory that is neither format."""
    is_json = text.lstrip().startswith(("{", "["))
    try:
        if is_json:
            document = json.loads(text)
        else:
            from cmkguard.iac._yaml import load_template_yaml

            document, _ = load_template_yaml(text)
    except ValueError as exc:
        if not explicit:
            return None
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        reason = reason.removeprefix("not YAML: ")
        raise IacInputError(
            f"{file} is not valid {'JSON' if is_json else 'YAML'}: {reason}"
        ) from None
    if is_plan(document) or is_template(document):
        return document
    if not explicit:
        return None
    if isinstance(document, dict) and "format_version" in document and "values" in document:
        raise IacInputError(
            f"{file} is Terraform state, not a plan: use `terraform show -json PLANFILE`"
        )
    raise IacInputError(
        f"{file} is not a Terraform plan (terraform show -json) or a CloudFormation template"
    )


def _declarations(
    file: str,
    text: str,
    document: Any,
    account: str | None,
    region: str | None,
    parameters: Mapping[str, str] | None,
) -> tuple[list[Decl], str | None]:
    if is_plan(document):
        return parse_plan(document, file, key_lines(text, max_depth=3))
    if text.lstrip().startswith("{"):
        lines = {
            str(p[1]): n
            for p, n in key_lines(text, 2).items()
            if len(p) == 2 and p[0] == "Resources"
        }
    else:
        from cmkguard.iac._yaml import load_template_yaml

        _, lines = load_template_yaml(text)
    template = Template(document, dict(parameters or {}), account, region)
    return parse_template(template, file, lines), account


def _format(decl: Decl) -> IacFormat:
    return IacFormat.CLOUDFORMATION if "::" in decl.resource_type else IacFormat.TERRAFORM_PLAN


def _checked(
    decls: list[Decl],
    account: str | None,
    describe: Describe | None,
    policy: AuditPolicy,
    min_window: int,
) -> list[IacResource]:
    out: list[IacResource] = []
    for decl, verdict, secondary in classify(decls, account, describe):
        findings = resource_findings(decl, verdict, secondary, policy, account, min_window)
        out.append(
            IacResource(
                file=decl.file,
                address=decl.address,
                resource_type=decl.resource_type,
                kind=decl.kind,
                source_format=_format(decl),
                key_class=verdict.key_class,
                line=decl.line,
                key_reference=verdict.reference,
                key_address=verdict.key_address,
                reason=verdict.reason,
                secondary_keys=tuple(_use(p, r, v) for p, r, v in secondary),
                findings=tuple(findings),
            )
        )
    return out


def _use(purpose: str, region: str | None, verdict: Verdict) -> IacKeyUse:
    return IacKeyUse(
        purpose=purpose,
        key_class=verdict.key_class,
        region=region,
        key_reference=verdict.reference,
        key_address=verdict.key_address,
        reason=verdict.reason,
    )
