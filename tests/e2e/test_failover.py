"""A failover on a highly available PostgreSQL, as docs/operations.md describes it: a primary
with a synchronous streaming replica (synchronous_standby_names), credd connected through a
multi-host conninfo with target_session_attrs=read-write (as with Patroni, without a virtual
address). The primary is killed with `pg_ctl stop -m immediate` in the middle of an import and
the replica promoted. Every document committed before the kill must be on the new primary
with the same bytes, the import must finish there, and nothing may be lost or duplicated:
one credential and one document per row, every document verifying, the audit chain whole."""

import os
import subprocess
import unittest

import harness
from ingest_util import HEADER, Installation, csv_row, make_signing_key
from ops_util import audit_verify, documents, verify_every_document

INST = "test-college"
ROWS = 300


def as_postgres(args, **kwargs):
    """Runs a PostgreSQL program as the clusters' owner (postgres when we are root)."""
    if os.getuid() == 0:
        args = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--", *args]
    return subprocess.run(args, capture_output=True, text=True, timeout=180, **kwargs)


def pg_bin(name):
    return os.path.join(subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True,
                                       check=True).stdout.strip(), name)


def answered(db):
    """The documents, once a read-write server answers (a client retries across a failover
    as credd does); None while none does."""
    try:
        return documents(db) or None
    except AssertionError:
        return None


class FailoverTest(harness.TestCase):
    def start_replica(self, primary):
        """A streaming replica of `primary` (pg_basebackup), named replica1."""
        directory = harness.make_temp_dir(self)
        data = os.path.join(directory, "pg", "data")
        os.makedirs(os.path.dirname(data))
        if os.getuid() == 0:
            subprocess.run(["chown", "-R", "postgres:postgres", directory], check=True)
        backup = as_postgres([pg_bin("pg_basebackup"), "-D", data, "-d", primary.url, "-X", "stream",
                              "--checkpoint=fast"])
        self.assertEqual(backup.returncode, 0, backup.stderr)
        primary_host = primary.url.split("host=")[1].split()[0]
        with open(os.path.join(data, "postgresql.auto.conf"), "a", encoding="utf-8") as f:
            f.write(f"primary_conninfo = 'host={primary_host} port=5432 user=credd_test "
                    "application_name=replica1'\n"
                    # Once promoted it stands alone, as Patroni reconfigures a lone survivor.
                    "synchronous_standby_names = ''\n")
        open(os.path.join(data, "standby.signal"), "w").close()
        if os.getuid() == 0:
            subprocess.run(["chown", "-R", "postgres:postgres", directory], check=True)
        return harness.OwnedCluster(self, durable=True, directory=directory), data

    def test_killing_the_primary_mid_import_loses_and_duplicates_nothing(self):
        primary = harness.OwnedCluster(self, durable=True)
        replica, replica_data = self.start_replica(primary)
        harness.psql(primary.url, "ALTER SYSTEM SET synchronous_standby_names = 'replica1'")
        harness.psql(primary.url, "SELECT pg_reload_conf()")
        harness.wait_for(lambda: harness.psql(primary.url, "SELECT sync_state FROM pg_stat_replication "
                                              "WHERE application_name = 'replica1'") == "sync",
                         60, what="replica1 streaming synchronously")

        hosts = [url.split("host=")[1].split()[0] for url in (primary.url, replica.url)]

        def both(conninfo):
            dbname = conninfo.split("dbname=")[-1].split()[0]
            return (f"host={','.join(hosts)} port=5432,5432 user=credd_test dbname={dbname} "
                    "target_session_attrs=read-write connect_timeout=5")
        keys = harness.make_temp_dir(self)
        key, cert, _ = make_signing_key(keys)
        # Made here, not by create_database: its clean-up would ask the primary, killed below.
        harness.psql(primary.url, "CREATE DATABASE credd_failover")
        site = Installation(self, database=f"{primary.url} dbname=credd_failover", route=both,
                            extra_yaml=f"signing:\n  key: '{key}'\n  certificate: '{cert}'\n"
                                       "issuing:\n  workers: 2\n  chunk_size: 8\n")
        daemon = site.start()
        db = site.daemon_conninfo
        site.drop(INST, "batch.csv", HEADER + "".join(csv_row(i) for i in range(1, ROWS + 1)))
        harness.wait_for(lambda: len(documents(db)) >= 8, 300, interval=0.05, what="a first chunk signed")
        committed = documents(db)
        as_postgres([pg_bin("pg_ctl"), "stop", "-D", os.path.join(primary.dir, "pg", "data"), "-m", "immediate",
                     "-w"])
        promoted = as_postgres([pg_bin("pg_ctl"), "promote", "-D", replica_data, "-w"])
        self.assertEqual(promoted.returncode, 0, promoted.stderr)
        # The kill landed in the middle of the import: the new primary holds only part of it.
        at_promotion = len(harness.wait_for(lambda: answered(db), 60, what="the promoted replica answering"))
        self.assertLess(at_promotion, ROWS, "the kill must land in the middle of the import")
        self.assertGreaterEqual(at_promotion, len(committed), "what was committed before the kill is there")

        state, report = site.report(INST, "batch.csv", timeout=600)
        self.assertEqual(state, "done", report)
        harness.wait_for(lambda: len(documents(db)) >= ROWS, 600, what=f"{ROWS} documents on the new primary")
        self.assertTrue(daemon.alive(), "credd rode out the failover")
        self.assertRegex(daemon.log(), r"event=(database\.unavailable|documents\.pending|intake\.error) .*"
                                       r"(server closed the connection|database unavailable)",
                         "credd noticed the primary went away")
        after = documents(db)
        lost = {k: v for k, v in committed.items() if after.get(k) != v}
        self.assertEqual(lost, {}, "documents committed before the kill, lost or changed after it")
        self.assertEqual(len(after), ROWS)
        self.assertEqual(harness.psql(db, "SELECT count(*) FROM credentials"), str(ROWS))
        self.assertEqual(harness.psql(db, "SELECT count(DISTINCT credential) FROM documents"), str(ROWS),
                         "one document per credential")
        self.assertEqual(harness.psql(db, "SELECT count(*) FROM students"), str(ROWS))
        self.assertEqual(verify_every_document(self, site.config, db), {"active": ROWS})
        audit_verify(self, site.config)
        print(f"{at_promotion} of {ROWS} documents were on the replica when it was promoted")


if __name__ == "__main__":
    unittest.main()
