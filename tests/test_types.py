"""The actors and the launcher are typed throughout: mypy, configured in
pyproject.toml ([tool.mypy]), finds nothing in them."""

from __future__ import annotations

import subprocess
import sys

from .conftest import REPO


def test_actors_and_launch_type_check(tmp_path) -> None:
    result = subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "cache")],
                            capture_output=True, text=True, timeout=300, cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout, result.stdout
