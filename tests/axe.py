"""axe-core for the browser tests: fetched once with npm into an ignored cache, checked
against the pinned sha512 before use, and injected into every frame with Playwright.

Without Node/npm (or the registry) the accessibility tests are skipped, and fail under CI=true.
"""

import base64
import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile

import pytest

from .live_server import ROOT

VERSION = "4.14.1"
# `npm view axe-core@4.14.1 dist.integrity`
INTEGRITY = "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ=="
CACHE = os.path.join(ROOT, ".cache", "axe-core")
TARBALL = os.path.join(CACHE, f"axe-core-{VERSION}.tgz")


def integrity(path):
    with open(path, "rb") as fh:
        return "sha512-" + base64.b64encode(hashlib.sha512(fh.read()).digest()).decode()


def fetch():
    """The pinned tarball in the cache (downloaded by `npm pack` when missing); raises when unavailable."""
    if os.path.exists(TARBALL) and integrity(TARBALL) == INTEGRITY:
        return TARBALL
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not installed (apt-get install npm): it fetches axe-core for these tests")
    os.makedirs(CACHE, exist_ok=True)
    # Packed into a folder of its own, checked, then moved into place: a parallel run never
    # sees half a file, and a tarball that does not match is never kept.
    with tempfile.TemporaryDirectory(dir=CACHE) as work:
        done = subprocess.run(
            [npm, "pack", f"axe-core@{VERSION}", "--pack-destination", work, "--silent", "--ignore-scripts"],
            cwd=work,
            capture_output=True,
            text=True,
            timeout=180,
        )
        packed = os.path.join(work, os.path.basename(TARBALL))
        if done.returncode != 0 or not os.path.exists(packed):
            raise RuntimeError(f"npm pack axe-core@{VERSION} failed: {done.stderr.strip()[-500:]}")
        got = integrity(packed)
        if got != INTEGRITY:
            raise RuntimeError(f"axe-core {VERSION} has integrity {got}, not the pinned {INTEGRITY}: refused")
        os.replace(packed, TARBALL)
    return TARBALL


def source():
    """axe.min.js of the pinned, verified tarball; a skip (a failure under CI=true) when it cannot be had."""
    try:
        path = fetch()
    except (RuntimeError, OSError, subprocess.SubprocessError) as error:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(str(error))
        pytest.skip(str(error))
    with tarfile.open(path) as tar:
        return tar.extractfile("package/axe.min.js").read().decode()


def inject(page, axe_js):
    """axe in every frame (a cross-origin chat frame too): axe.run then reports the frames' rules."""
    for frame in page.frames:
        if frame.is_detached() or frame.url in ("", "about:blank"):
            continue
        frame.evaluate("src => { if (!window.axe) (0, eval)(src); }", axe_js)


def violations(page, axe_js):
    """axe's violations of the page, its frames and open shadow roots: [{id, impact, help, nodes: [target]}]."""
    inject(page, axe_js)
    found = page.evaluate(
        """async () => {
          const result = await axe.run(document, {resultTypes: ["violations"], iframes: true});
          return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => n.target.flat().join(" >>> "))}));
        }"""
    )
    return found


def table(results, locales):
    """page × locale → number of violations (rule ids beside them), as printed on failure."""
    pages = list(dict.fromkeys(page for page, _ in results))
    width = max(len(p) for p in pages) + 2
    lines = ["page".ljust(width) + "".join(loc.ljust(40) for loc in locales)]
    for page in pages:
        cells = []
        for loc in locales:
            found = results.get((page, loc))
            if found is None:
                cells.append("-".ljust(40))
            else:
                ids = ", ".join(f"{v['id']}({v['impact']})" for v in found)
                cells.append(f"{len(found)} {ids}".ljust(40))
        lines.append(page.ljust(width) + "".join(cells))
    return "\n".join(lines)


def details(results):
    lines = []
    for (page, loc), found in results.items():
        for v in found:
            lines.append(f"{page} [{loc}] {v['id']} ({v['impact']}): {v['help']}")
            lines.extend("    " + target for target in v["nodes"][:6])
    return "\n".join(lines)
