"""The code passes the project's linter (its rules in pyproject.toml), so a slip is caught here, not in review."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_finds_nothing() -> None:
    ran = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "src", "tests"],
                         cwd=ROOT, capture_output=True, text=True, check=False)
    assert ran.returncode == 0, ran.stdout + ran.stderr
