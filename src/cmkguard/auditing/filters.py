"""Finding filters for `AuditReport.where`: severity comparisons, rule globs, exact fields."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable

import attrs

from cmkguard.auditing.finding import Finding
from cmkguard.errors import ConfigurationError
from cmkguard.severity import Severity

__all__ = ["FindingFilter", "parse_severity_filter"]

_COMPARISON = re.compile(r"^\s*(>=|<=|==|>|<|=)?\s*([a-zA-Z]+)\s*$")
_OPERATORS: dict[str, Callable[[int, int], bool]] = {
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
    "==": lambda a, b: a == b,
    "=": lambda a, b: a == b,
}


def parse_severity_filter(spec: Severity | str) -> tuple[str, Severity]:
    """`">=high"` -> `(">=", Severity.HIGH)`; a bare level means exactly that level.

    Raises:
        ConfigurationError: an unknown level or a malformed comparison.
    """
    if isinstance(spec, Severity):
        return "==", spec
    match = _COMPARISON.match(str(spec))
    if not match:
        raise ConfigurationError(
            f"severity filter {spec!r}: expected a level or a comparison such as '>=high'"
        )
    operator, level = match.group(1) or "==", match.group(2).lower()
    try:
        return operator, Severity(level)
    except ValueError:
        names = ", ".join(s.value for s in Severity)
        raise ConfigurationError(
            f"severity filter {spec!r}: unknown level (one of {names})"
        ) from None


def _values(value: str | Iterable[str] | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    return tuple(value)


@attrs.frozen
class FindingFilter:
    """A conjunction of optional conditions on a finding (None: no condition)."""

    severity: tuple[str, Severity] | None = None
    rules: tuple[str, ...] | None = None
    accounts: tuple[str, ...] | None = None
    regions: tuple[str, ...] | None = None
    resource_types: tuple[str, ...] | None = None
    target: str | None = None
    suppressed: bool | None = None

    @classmethod
    def build(
        cls,
        *,
        severity: Severity | str | None = None,
        rule: str | Iterable[str] | None = None,
        account: str | Iterable[str] | None = None,
        region: str | Iterable[str] | None = None,
        resource_type: str | Iterable[str] | None = None,
        target: str | None = None,
        suppressed: bool | None = None,
    ) -> FindingFilter:
        """The filter of `AuditReport.where`'s arguments (validated)."""
        if suppressed is not None and not isinstance(suppressed, bool):
            raise ConfigurationError(f"suppressed must be True, False or None, not {suppressed!r}")
        return cls(
            severity=parse_severity_filter(severity) if severity is not None else None,
            rules=_values(rule),
            accounts=_values(account),
            regions=_values(region),
            resource_types=_values(resource_type),
            target=target,
            suppressed=suppressed,
        )

    def matches(self, f: Finding) -> bool:
        """Whether `f` meets every condition."""
        if self.severity is not None:
            operator, level = self.severity
            if not _OPERATORS[operator](f.severity.rank, level.rank):
                return False
        if self.rules is not None and not any(
            fnmatch.fnmatchcase(f.rule_id, r) for r in self.rules
        ):
            return False
        for wanted, value in (
            (self.accounts, f.account),
            (self.regions, f.region),
            (self.resource_types, f.resource_type),
        ):
            if wanted is not None and value not in wanted:
                return False
        if self.target is not None and not any(
            fnmatch.fnmatchcase(text, self.target) for text in (f.target, f.name or "")
        ):
            return False
        return self.suppressed is None or f.suppressed == self.suppressed

    def describe(self) -> tuple[str, ...]:
        """The conditions as short texts (`severity>=high`, `account=1111...`)."""
        out: list[str] = []
        if self.severity is not None:
            out.append(f"severity{self.severity[0]}{self.severity[1].value}")
        for name, values in (
            ("rule", self.rules),
            ("account", self.accounts),
            ("region", self.regions),
            ("resource_type", self.resource_types),
        ):
            if values is not None:
                out.append(f"{name}={','.join(values)}")
        if self.target is not None:
            out.append(f"target={self.target}")
        if self.suppressed is not None:
            out.append(f"suppressed={str(self.suppressed).lower()}")
        return tuple(out)
