"""The layering rules the code must keep, checked over the source tree (C++ only; setup
scripts may use psql). Each breach is printed as file:line and the rule it breaks; the exit
status is 1 when there is any. Run by ctest as `layers`.

Rules:
- libpqxx belongs to daemon/store/: nothing else includes it or names a pqxx type;
- daemon/store/internal/ is the store's private side: only daemon/store/ includes it;
- the store's public headers expose no libpqxx type (internal/ and test helpers aside);
- SQL lives in daemon/store/: no C++ string literal elsewhere holds a statement;
- common/, records/ and importers/ are below the daemon: they include no daemon/ header
  (records/ and common/ not even an importer's).
"""

import os
import re
import sys

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", ".."))
SOURCE_DIRS = ("common", "importers", "daemon", "credctl", "bench", "fuzz")
STORE = "daemon/store/"
SQL = re.compile(r'"[^"\n]*\b(SELECT\s+\S|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|'
                 r'CREATE\s+(TABLE|INDEX|FUNCTION)|pg_advisory)', re.IGNORECASE)
PQXX = re.compile(r'#\s*include\s*[<"]pqxx/|\bpqxx::')
INTERNAL = re.compile(r'#\s*include\s*"daemon/store/internal/')
INCLUDE = re.compile(r'#\s*include\s*"([^"]+)"')
# Folder -> the include prefixes its files may not use.
BELOW = {"common/": ("daemon/", "importers/", "records/", "credctl/"),
         "records/": ("daemon/", "importers/", "credctl/"),
         "importers/": ("daemon/", "credctl/")}


def sources():
    for top in SOURCE_DIRS:
        for folder, dirs, files in os.walk(os.path.join(ROOT, top)):
            dirs[:] = [d for d in dirs if d not in ("testdata", "migrations")]
            for name in sorted(files):
                if name.endswith((".cpp", ".h")):
                    path = os.path.join(folder, name)
                    yield os.path.relpath(path, ROOT), path


def is_store_test_helper(rel):
    return "_pgtest" in rel or rel.endswith("_test.cpp") or rel == STORE + "pgtest_util.h"


def breaches(files):
    for rel, path in files:
        in_store = rel.startswith(STORE)
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().split("\n")
        for number, line in enumerate(lines, start=1):
            code = line.split("//", 1)[0]
            if not in_store and PQXX.search(code):
                yield f"{rel}:{number}: libpqxx outside daemon/store/: {line.strip()}"
            if not in_store and INTERNAL.search(code):
                yield f"{rel}:{number}: includes the store's private side: {line.strip()}"
            if (in_store and rel.endswith(".h") and not rel.startswith(STORE + "internal/")
                    and not is_store_test_helper(rel) and PQXX.search(code)):
                yield f"{rel}:{number}: a store header exposes libpqxx: {line.strip()}"
            include = INCLUDE.search(code)
            for folder, banned in BELOW.items():
                if (include and rel.startswith(folder) and not rel.endswith("_test.cpp")
                        and include.group(1).startswith(banned)):
                    yield f"{rel}:{number}: {folder} includes a layer above it: {line.strip()}"
            if not in_store and SQL.search(code):
                yield f"{rel}:{number}: SQL outside daemon/store/: {line.strip()}"


def main():
    files = list(sources())
    found = list(breaches(files))
    for breach in found:
        print(breach)
    checked = len(files)
    print(f"layers: {checked} files checked, {len(found)} breaches")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
