"""Fixtures shared by the test suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import make_tree


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "evidence"
    make_tree(root, 300)
    return root
