"""docs/security.md names, for every boundary crossing, the test that proves its check:
each named test must exist (a renamed or deleted test leaves a row unproven)."""

import ast
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _tests_in(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as fh:
        tree = ast.parse(fh.read())
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}


def test_every_test_the_threat_model_names_exists():
    with open(os.path.join(ROOT, "docs", "security.md"), encoding="utf-8") as fh:
        text = fh.read()
    named = re.findall(r"`(tests/[\w/]+\.py)::(test_\w+)`", text)
    assert len(named) > 50
    missing = [f"{path}::{name}" for path, name in named if name not in _tests_in(path)]
    assert missing == []


def test_every_row_names_a_test_or_says_why_not():
    with open(os.path.join(ROOT, "docs", "security.md"), encoding="utf-8") as fh:
        rows = [line for line in fh if line.startswith("| ") and not line.startswith(("| what", "| ---"))]
    unproven = [row for row in rows if "test_" not in row.rsplit("|", 2)[-2] and "none (" not in row]
    assert unproven == []
