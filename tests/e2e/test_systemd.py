"""The systemd unit as systemd itself judges it: it parses (systemd-analyze verify, against
the credd binary we built), and its exposure is 2.0 or lower (systemd-analyze security
--offline=yes), as the HTTP issue asks of a service that faces the network."""

import os
import re
import subprocess

import harness

UNIT = os.path.join(harness.SOURCE_DIR, "systemd", "credd.service")


class SystemdUnitTest(harness.TestCase):
    def test_exposure_is_at_most_two(self):
        result = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--no-pager", UNIT],
                                capture_output=True, text=True, timeout=120)
        text = result.stdout + result.stderr
        found = re.search(r"Overall exposure level for credd\.service: (\d+\.\d+)", text)
        self.assertIsNotNone(found, text)
        self.assertLessEqual(float(found.group(1)), 2.0, text)

    def test_unit_verifies(self):
        # ExecStart names /usr/bin/credd; verify a copy that points at the build.
        d = harness.make_temp_dir(self)
        unit = os.path.join(d, "credd.service")
        with open(UNIT, encoding="utf-8") as f:
            text = f.read().replace("/usr/bin/credd", harness.CREDD)
        with open(unit, "w", encoding="utf-8") as f:
            f.write(text)
        result = subprocess.run(["systemd-analyze", "verify", "--man=no", unit],
                                capture_output=True, text=True, timeout=120)
        problems = [line for line in (result.stdout + result.stderr).splitlines()
                    if "credd.service" in line and "Unit credd.service" not in line]
        self.assertEqual(problems, [], result.stdout + result.stderr)
