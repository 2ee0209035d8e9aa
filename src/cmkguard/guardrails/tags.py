"""The mandatory tag set of a new CMK (configurable)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from cmkguard.errors import ConfigurationError

__all__ = ["MANDATORY_TAGS", "key_tags", "parse_tag"]

MANDATORY_TAGS: tuple[str, ...] = ("owner", "application", "data-sensitivity", "cost-centre")
"""The tag keys every new CMK carries unless the organisation configures its own set."""

_MAX_KEY, _MAX_VALUE = 128, 256


def parse_tag(text: str) -> tuple[str, str]:
    """`KEY=VALUE` (the CLI's `--tag`) as a pair."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ConfigurationError(f"tag {text!r} is not KEY=VALUE")
    return key, value


def key_tags(
    values: Mapping[str, str], *, required: Iterable[str] = MANDATORY_TAGS
) -> list[dict[str, str]]:
    """The KMS `Tags` list (`TagKey`/`TagValue`) with every `required` key present and non-empty.

    Extra tags are kept; keys of `aws:` are refused (AWS reserves them), as are KMS's length
    limits (128 for keys, 256 for values).
    """
    missing = [k for k in required if not str(values.get(k, "")).strip()]
    if missing:
        raise ConfigurationError(f"missing mandatory tag(s): {', '.join(missing)}")
    out = []
    for key, value in values.items():
        if key.lower().startswith("aws:"):
            raise ConfigurationError(f"tag key {key!r}: the aws: prefix is reserved by AWS")
        if not 1 <= len(key) <= _MAX_KEY or len(value) > _MAX_VALUE:
            raise ConfigurationError(f"tag {key!r}: key 1-128 characters, value up to 256")
        out.append({"TagKey": key, "TagValue": value})
    return out
