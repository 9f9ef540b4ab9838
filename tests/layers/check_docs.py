"""The architecture docs name what is there: every folder under daemon/ is in README.md's
Architecture section and in daemon/README.md, every folder under templates/ in
templates/README.md, and none of them says a part comes "later" (papercut: they had
drifted). Usage: check_docs.py SOURCE_DIR."""

import os
import re
import sys


def folders(path):
    return sorted(n for n in os.listdir(path) if os.path.isdir(os.path.join(path, n)) and not n.startswith("."))


def main(root):
    problems = []

    def read(rel):
        with open(os.path.join(root, rel), encoding="utf-8") as f:
            return f.read()

    readme = read("README.md")
    architecture = readme.split("## Architecture", 1)[1].split("\n## ", 1)[0] if "## Architecture" in readme else ""
    if not architecture:
        problems.append("README.md: no Architecture section")
    checks = [("README.md (Architecture)", architecture, folders(os.path.join(root, "daemon"))),
              ("daemon/README.md", read("daemon/README.md"), folders(os.path.join(root, "daemon"))),
              ("templates/README.md", read("templates/README.md"), folders(os.path.join(root, "templates")))]
    for name, text, wanted in checks:
        for folder in wanted:
            if f"`{folder}/" not in text and f"{folder}/" not in text:
                problems.append(f"{name}: does not name {folder}/")
        for m in re.finditer(r"[^\n]*\blater\b[^\n]*", text):
            problems.append(f"{name}: says a part comes later: {m.group(0).strip()}")
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
