"""The package's shape: no class grows past what one reads in a sitting (about 400 lines)."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "pytest_drtest"
MAX_CLASS_LINES = 420  # "no class over ~400 lines": split by behaviour, as moto splits a service


def test_no_class_is_longer_than_about_400_lines() -> None:
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and node.end_lineno is not None:
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_CLASS_LINES:
                    long.append(f"{path.relative_to(PACKAGE.parent)}: {node.name} ({lines} lines)")
    assert not long, long
