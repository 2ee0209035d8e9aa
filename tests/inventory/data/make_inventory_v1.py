"""How inventory-v1-before-house.json was made: with the code of the starting commit.

Run it with that checkout's interpreter (`/work/wt/baseline/.venv/bin/python
tests/inventory/data/make_inventory_v1.py OUT.json`): it seeds the emulated account, adds a
grant with constraints and an on-demand rotation, denies one RDS listing (so the file holds
ScanErrors) and scans three regions (one empty). Kept to say where the fixture comes from; the
tests only read the JSON.
"""

import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # run as a script: find tests/
from tests._env import aws_env

_ENV = aws_env()  # the suite's fake credentials, no profile, no real AWS
os.environ.clear()
os.environ.update(_ENV)

# The fake environment must be in place before boto3 is imported.
from botocore.awsrequest import AWSResponse  # noqa: E402

import cmkguard  # noqa: E402
from cmkguard.testing import EmulatedAWS, seed_estate  # noqa: E402


def _deny_cluster_snapshots(model: Any, **_: Any) -> Any:
    if model.name != "DescribeDBClusterSnapshots":
        return None
    error = {
        "Error": {"Code": "AccessDenied", "Message": "not authorized"},
        "ResponseMetadata": {"HTTPStatusCode": 400},
    }
    return AWSResponse("https://x.invalid/", 400, {}, None), error


def main(out: str) -> None:
    with EmulatedAWS() as aws:
        seed_estate(aws, regions=("us-east-1", "eu-west-1"))
        kms = aws.client("kms", "us-east-1")
        cmks = [
            k["KeyId"]
            for k in kms.list_keys()["Keys"]
            if kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]["KeyManager"] == "CUSTOMER"
        ]
        kms.create_grant(
            KeyId=cmks[0],
            GranteePrincipal="arn:aws:iam::111122223333:role/app",
            Operations=["Decrypt", "Encrypt"],
            Name="app-grant",
            Constraints={"EncryptionContextSubset": {"app": "orders"}},
        )
        kms.rotate_key_on_demand(KeyId=cmks[0])
        session = aws.session("us-east-1")
        session.events.register("before-call.rds", _deny_cluster_snapshots)
        inv = cmkguard.scan(session, regions=["us-east-1", "eu-west-1", "ap-south-1"])
    Path(out).write_text(inv.to_json(), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1])
