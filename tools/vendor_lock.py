"""Write static/vendor/vendor.lock.json for the vendored front-end files (run by `make vendor`).

The files are committed so that a newcomer needs only Python; the lock records
each one's npm package, version, npm integrity and SHA-256, and a test checks
the committed files against it.
"""

import hashlib
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.join(ROOT, "static", "vendor")
FILES = {"htmx.min.js": "htmx.org", "sse.js": "htmx-ext-sse"}


def main():
    lock = json.load(open(os.path.join(ROOT, "package-lock.json")))["packages"]
    entries = {}
    for name, package in FILES.items():
        with open(os.path.join(HERE, name), "rb") as fh:
            digest = hashlib.sha256(fh.read()).hexdigest()
        meta = lock[f"node_modules/{package}"]
        entries[name] = {
            "package": package,
            "version": meta["version"],
            "npm_integrity": meta["integrity"],
            "sha256": digest,
        }
    with open(os.path.join(HERE, "vendor.lock.json"), "w") as fh:
        json.dump(entries, fh, indent=2, sort_keys=True)
        fh.write("\n")


if __name__ == "__main__":
    main()
