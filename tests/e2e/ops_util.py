"""Helpers for the operations tests (backup and restore, failover): every stored document's
digest and status, and every document exported and judged by credctl verify."""

import hashlib
import os
import re

import harness


def documents(conninfo):
    """{public_id: (sha256, status)} of every document in the database."""
    rows = harness.psql(conninfo, "SELECT public_id, sha256, status FROM documents ORDER BY id")
    found = {}
    for row in rows.splitlines():
        public_id, sha256, status = row.split("|")
        found[public_id] = (sha256, status)
    return found


def verify_every_document(test, config, conninfo):
    """Exports every stored document (credctl document export) and judges it with credctl
    verify: exit 0 for an active document, 2 for a revoked or superseded one. The exported
    bytes must have the stored digest. Returns {status: count}."""
    out = harness.make_temp_dir(test)
    judged = {}
    for public_id, (sha256, status) in documents(conninfo).items():
        path = os.path.join(out, public_id + ".pdf")
        exported = harness.run([harness.CREDCTL, "--config", config, "document", "export", public_id,
                                "--out", path])
        test.assertEqual(exported.returncode, 0, f"export {public_id}: {exported.stderr}")
        with open(path, "rb") as f:
            test.assertEqual(hashlib.sha256(f.read()).hexdigest(), sha256, f"{public_id}'s bytes")
        verdict = harness.run([harness.CREDCTL, "--config", config, "verify", path])
        test.assertEqual(verdict.returncode, 0 if status == "active" else 2,
                         f"credctl verify {public_id} ({status}): {verdict.stdout}{verdict.stderr}")
        judged[status] = judged.get(status, 0) + 1
    return judged


def audit_verify(test, config, *args):
    """credctl audit verify must find the chain whole; returns its output."""
    result = harness.run([harness.CREDCTL, "--config", config, "audit", "verify", *args])
    test.assertEqual(result.returncode, 0, f"audit verify: {result.stdout}{result.stderr}")
    test.assertIn("whole", result.stdout)
    return result.stdout


def with_database(config, target, conninfo):
    """A copy of config (a file written by harness.write_config) at target, on another
    database, with its own HTTP port."""
    harness.copy_config(config, target)
    with open(target, encoding="utf-8") as f:
        text = f.read()
    text, n = re.subn(r"^  url: .*$", lambda _: harness.url_database(conninfo), text, count=1, flags=re.M)
    if n != 1:
        raise AssertionError(f"no database url in {config}")
    with open(target, "w", encoding="utf-8") as f:
        f.write(text)
    return target
