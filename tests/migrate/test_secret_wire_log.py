"""The opt-in secret re-encryption never lets a value reach the logs, even at root DEBUG.

Found by a QA pass: with ``logging.basicConfig(level=logging.DEBUG)`` botocore's wire log
printed the GetSecretValue response body and the PutSecretValue request (the value) of the
re-encrypt step. cmkguard now mutes botocore/urllib3 records of its own thread for those calls.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import pytest

from cmkguard import MigrationOptions, execute, plan_migration
from cmkguard.migrate.aws_ops import wire_log_muted
from cmkguard.migrate.execution_log import REDACTED, redact

from .conftest import FAST, Estate, inventory_and_settings


def test_reencrypt_at_root_debug_logs_no_value(
    estate: Estate, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    inventory, _ = inventory_and_settings(estate, [])
    plan = plan_migration(
        inventory,
        estate.secret_arn,
        target_key="alias/orders",
        options=MigrationOptions(reencrypt_secret_value=True),
    )
    caplog.set_level(logging.DEBUG)  # the root logger: botocore's wire log included
    report = execute(
        plan, estate.session, journal=tmp_path / "j.json", dry_run=False, waiter_config=FAST
    )
    assert report.completed, str(report)
    assert "UpdateSecret" in caplog.text  # the wire log was on for the other steps
    assert "s3cr3t-value" not in caplog.text


def test_muting_is_scoped_to_the_calling_thread(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wire = logging.getLogger("botocore.endpoint")
    other = threading.Thread(target=lambda: wire.debug("from another thread"))
    with wire_log_muted():
        wire.debug("muted here")
        other.start()
        other.join()
    wire.debug("after the block")
    assert "muted here" not in caplog.text
    assert "from another thread" in caplog.text
    assert "after the block" in caplog.text


def test_the_execution_log_holds_no_secret_value_nor_interim_password(
    estate: Estate, tmp_path: Path
) -> None:
    rds = estate.session.client("rds")
    rds.create_db_instance(
        DBInstanceIdentifier="billing",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        MasterUsername="admin",
        ManageMasterUserPassword=True,
        AllocatedStorage=20,
    )
    managed = rds.describe_db_instances(DBInstanceIdentifier="billing")["DBInstances"][0][
        "MasterUserSecret"
    ]["SecretArn"]
    sent: list[str] = []

    def remember_password(params: dict[str, Any], **_: Any) -> None:
        if "MasterUserPassword" in params:
            sent.append(params["MasterUserPassword"])

    estate.session.events.register("before-parameter-build.rds.ModifyDBInstance", remember_password)
    inventory, _ = inventory_and_settings(estate, [])
    plan = plan_migration(
        inventory,
        [estate.secret_arn, managed],
        target_key="alias/orders",
        options=MigrationOptions(reencrypt_secret_value=True),
    )
    journal = tmp_path / "j.json"
    report = execute(plan, estate.session, journal=journal, dry_run=False, waiter_config=FAST)
    assert report.completed, str(report)
    (password,) = sent
    log = (tmp_path / "j.log.jsonl").read_text()
    assert "PutSecretValue" in log
    assert "ModifyDBInstance" in log
    assert '"MasterUserPassword": "<redacted>"' in log
    for secret in ("s3cr3t-value", password):
        assert secret not in log


def test_redaction_replaces_secret_looking_fields_at_any_depth() -> None:
    record = {"params": {"MasterUserPassword": "p", "Nested": [{"SecretString": "s"}], "Id": 1}}
    assert redact(record) == {
        "params": {"MasterUserPassword": REDACTED, "Nested": [{"SecretString": REDACTED}], "Id": 1}
    }
