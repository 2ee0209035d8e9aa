"""Cross-account snapshot sharing as AWS enforces it (moto does not).

moto looks a snapshot ARN up in the *caller's* account, so another account's shared snapshot is
"not found" whatever its `restore` attribute says, and it lets anyone share a snapshot encrypted
with `aws/rds`. AWS instead:

* refuses to share (`ModifyDBSnapshotAttribute` / `ModifyDBClusterSnapshotAttribute`,
  `AttributeName=restore`, `ValuesToAdd`) a snapshot encrypted with an AWS-managed key, and
  refuses `all` (public) for any encrypted snapshot;
* lets another account copy a snapshot (`CopyDBSnapshot` / `CopyDBClusterSnapshot` with the
  source's ARN) only when the `restore` attribute names that account (or `all`) and, for an
  encrypted snapshot, the key policy lets that account use the key (`kms:Decrypt`,
  `kms:CreateGrant`: RDS acts for the caller).

`refusal` runs in the middleware before moto sees the request and answers what AWS would; an
allowed cross-account copy marks the source for this request's thread, and moto's patched
`get_snapshot` reads it from the owner's backend (`shared_source`).
"""

from __future__ import annotations

import threading
import urllib.parse
from typing import Any

from cmkguard.testing import _moto

__all__ = ["SHARE_OPERATIONS", "error_response", "refusal", "shared_source"]

SHARE_OPERATIONS = frozenset(
    {
        "ModifyDBSnapshotAttribute",
        "ModifyDBClusterSnapshotAttribute",
        "CopyDBSnapshot",
        "CopyDBClusterSnapshot",
    }
)

_SOURCE_FIELD = {
    "CopyDBSnapshot": "SourceDBSnapshotIdentifier",
    "CopyDBClusterSnapshot": "SourceDBClusterSnapshotIdentifier",
}
_SHARED = threading.local()  # the source ARN an allowed cross-account copy may read


def _form(environ: dict[str, Any]) -> dict[str, list[str]]:
    stream = environ["wsgi.input"]
    body = stream.getvalue() if hasattr(stream, "getvalue") else b""
    query = environ.get("QUERY_STRING", "")
    form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
    form.update(urllib.parse.parse_qs(query))
    return form


def _members(form: dict[str, list[str]], name: str) -> list[str]:
    prefix = f"{name}."
    return [v[0] for k, v in form.items() if k.startswith(prefix) and v]


def _snapshot(account: str, region: str, identifier: str, cluster: bool) -> Any | None:
    backend = _moto.rds_backend(account, region)
    found = backend.cluster_snapshots if cluster else backend.database_snapshots
    return found.get(identifier)


def _key_of(account: str, region: str, snapshot: Any) -> tuple[str, str] | None:
    """`(KeyManager, key ARN)` of an encrypted snapshot; `None` when unencrypted."""
    key_id = getattr(snapshot, "kms_key_id", None)
    if not key_id or key_id == _moto.DEFAULT_KEY_PLACEHOLDER:
        placeholder = key_id == _moto.DEFAULT_KEY_PLACEHOLDER
        if placeholder:
            return ("AWS", _moto.find_aws_managed_key_arn(account, region, "alias/aws/rds") or "")
        return None
    return _moto.key_manager(account, region, str(key_id))


def _share_refusal(form: dict[str, list[str]], account: str, region: str, cluster: bool) -> str:
    if (form.get("AttributeName") or [""])[0] != "restore":
        return ""
    added = _members(form, "ValuesToAdd.AttributeValue")
    if not added:
        return ""
    field = "DBClusterSnapshotIdentifier" if cluster else "DBSnapshotIdentifier"
    snapshot = _snapshot(account, region, (form.get(field) or [""])[0], cluster)
    if snapshot is None:
        return ""  # moto answers the not-found itself
    key = _key_of(account, region, snapshot)
    if key is not None and key[0] == "AWS":
        return (
            "The snapshot cannot be shared because it is encrypted with the default AWS KMS key "
            "(aws/rds): copy it with a customer managed key and share the copy"
        )
    if key is not None and "all" in added:
        return "Encrypted snapshots cannot be shared publicly (restore attribute value 'all')"
    return ""


def _copy_refusal(
    form: dict[str, list[str]], operation: str, caller: str, region: str, accounts: tuple[str, ...]
) -> tuple[str, str]:
    """`(code, message)` why AWS refuses this copy of another account's snapshot, or `("", "")`.

    Allowed copies mark the source ARN for this thread (read by `patched_get_snapshot`).
    """
    _SHARED.arn = None
    source = (form.get(_SOURCE_FIELD[operation]) or [""])[0]
    parts = source.split(":")
    if len(parts) < 7 or parts[0] != "arn" or parts[4] in ("", caller) or parts[4] not in accounts:
        return "", ""
    cluster = operation == "CopyDBClusterSnapshot"
    owner, source_region, name = parts[4], parts[3], parts[6]
    not_found = "DBClusterSnapshotNotFoundFault" if cluster else "DBSnapshotNotFound"
    snapshot = _snapshot(owner, source_region, name, cluster)
    shared_with = set(getattr(snapshot, "attributes", {}).get("restore", ())) if snapshot else set()
    if snapshot is None or not shared_with & {caller, "all"}:
        what = "DBClusterSnapshot" if cluster else "DBSnapshot"
        return not_found, f"{what} {source} not found."
    key = _key_of(owner, source_region, snapshot)
    if key is not None:
        allowed = key[0] != "AWS" and all(
            _moto.key_policy_allows(owner, source_region, key[1], caller, action)
            for action in ("kms:Decrypt", "kms:CreateGrant")
        )
        if not allowed:
            return (
                "KMSKeyNotAccessibleFault",
                f"The source snapshot KMS key [{key[1]}] does not exist, is not enabled or you "
                "do not have permissions to access it.",
            )
    _SHARED.arn = source
    return "", ""


def refusal(
    environ: dict[str, Any], operation: str, caller: str, region: str, accounts: tuple[str, ...]
) -> tuple[str, str]:
    """`(code, message)` of the error AWS would answer this RDS request with, or `("", "")`."""
    form = _form(environ)
    if operation in _SOURCE_FIELD:
        return _copy_refusal(form, operation, caller, region, accounts)
    cluster = operation == "ModifyDBClusterSnapshotAttribute"
    message = _share_refusal(form, caller, region, cluster)
    return ("InvalidParameterValue", message) if message else ("", "")


def shared_source(identifier: str) -> Any | None:
    """The other account's snapshot an allowed copy of this thread's request reads, if any
    (moto's `RDSBackend.get_snapshot` looks ARNs up in the caller's account only)."""
    if getattr(_SHARED, "arn", None) != identifier:
        return None
    parts = identifier.split(":")
    return _snapshot(parts[4], parts[3], parts[6], parts[5] == "cluster-snapshot")


_moto.set_shared_source_lookup(shared_source)


def error_response(start_response: Any, code: str, message: str) -> list[bytes]:
    """RDS's (query protocol) error document, as botocore parses it."""
    text = message.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    body = (
        '<ErrorResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><Error><Type>Sender'
        f"</Type><Code>{code}</Code><Message>{text}</Message></Error>"
        "<RequestId>cmkguard-emulated</RequestId></ErrorResponse>"
    ).encode()
    headers = [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))]
    start_response("400 Bad Request", headers)
    return [body]
