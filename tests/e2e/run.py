"""Runs one end-to-end module as `python -m unittest -v` does, and exits 77 (ctest's
SKIP_RETURN_CODE) when everything else passed but some tests were skipped because the
shared corpus is missing, so ctest lists the module as not run rather than passed.
Usage: run.py test_MODULE."""

import sys
import unittest

import harness


def main(name):
    suite = unittest.defaultTestLoader.loadTestsFromName(name)
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    if not result.wasSuccessful():
        return 1
    missing = [test for test, reason in result.skipped if reason.startswith(harness.CORPUS_MISSING)]
    if missing:
        print(f"{len(missing)} test(s) not run: {harness.CORPUS_MISSING}{harness.CORPUS}", file=sys.stderr)
        return 77
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
