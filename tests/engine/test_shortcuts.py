"""dftk's entry-point reader against importlib.metadata, the reference it stands in for at start-up."""

from __future__ import annotations

import sys
from importlib.metadata import entry_points as reference
from pathlib import Path

import pytest

from dftk.shortcuts import entry_points


@pytest.mark.parametrize("group", ["dftk.commands", "dftk.plugins", "console_scripts", "no.such.group"])
def test_same_entry_points_as_importlib_metadata(group: str) -> None:
    ours = sorted((e.name, e.value, e.dist.name if e.dist else None) for e in entry_points(group))
    theirs = sorted((e.name, e.value, e.dist.name.lower().replace("_", "-") if e.dist else None)
                    for e in reference(group=group))
    assert ours == theirs
    if group.startswith("dftk"):
        assert ours


def test_load_imports_the_named_object() -> None:
    [carve] = [e for e in entry_points("dftk.commands") if e.name == "carve"]
    assert carve.load().name == "carve"


def test_first_distribution_on_the_path_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for folder, value in (("a", "first:thing"), ("b", "second:thing")):
        meta = tmp_path / folder / "Some_Tool-2.0.dist-info"
        meta.mkdir(parents=True)
        (meta / "entry_points.txt").write_text(
            f"# a comment\n[other]\nx = nope:x\n\n[ dftk.test ]\n; another\ntool = {value} [extra]\n")
    (tmp_path / "a" / "broken.dist-info").mkdir()  # no entry_points.txt: nothing registered
    monkeypatch.setattr(sys, "path", [str(tmp_path / "a"), str(tmp_path / "b"), str(tmp_path / "missing")])
    [found] = entry_points("dftk.test")
    assert (found.name, found.value, found.dist and found.dist.name) == ("tool", "first:thing [extra]", "some-tool")


def test_each_shortcut_can_be_switched_off() -> None:
    import os
    import subprocess

    code = ("from dftk import shortcuts; print(sorted(n for n in ('entry_points', 'exit', 'blas', 'gc') "
            "if not shortcuts.enabled(n)), len(shortcuts.entry_points('dftk.plugins')) > 0)")
    for off, expected in (("", "[] True"), ("exit,gc", "['exit', 'gc'] True"),
                          ("all", "['blas', 'entry_points', 'exit', 'gc'] True")):
        env = {**os.environ, "DFTK_SHORTCUTS_OFF": off}
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
        assert done.stdout.strip() == expected
