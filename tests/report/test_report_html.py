"""The HTML report in a real browser (headless Chromium): it shows the summary and thumbnails, and
nothing taken from the evidence runs as script."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from dftk.api import Evidence, Finding, LoadedPlugin, Plugin, Record, Settings, installed, open_evidence
from dftk.case.run import Pipeline
from dftk.case.store import CaseStore
from helpers import dftk, require_tool

pytestmark = pytest.mark.interop
TRAP = "x\"><script>document.body.setAttribute('data-pwned','uri')</script>"

HOSTILE = {
    "Make": "<script>document.body.setAttribute('data-pwned','script')</script>",
    "Model": "<img src=x onerror=\"document.body.setAttribute('data-pwned','img')\">",
    "Software": "javascript:document.body.setAttribute('data-pwned','js')",
    "Title": "</td></tr></table><svg onload=\"document.body.setAttribute('data-pwned','svg')\">",
}


class _Trap(Plugin):
    """What a metadata plugin would record from a booby-trapped photo."""

    name = "trap"
    discipline = "image"
    version = "1"

    def run(self, evidence: Evidence, **opts: object) -> Iterator[Record]:
        yield Finding("media/exif", "/trap.jpg", HOSTILE)
        yield Finding("image/thumbnail", "/trap2.jpg", {"@image": "jpeg_base64", "jpeg_base64": TRAP})


def _chromium(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    browser = require_tool("chromium")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}"]
    return subprocess.run([browser, *flags, *args], capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("html")
    evidence = root / "evidence"
    evidence.mkdir()
    Image.new("RGB", (200, 200), (220, 20, 30)).save(
        evidence / "<img src=x onerror=\"document.body.setAttribute('data-pwned','name')\">.png")
    (evidence / "javascript:document.body.setAttribute('data-pwned','link').txt").write_text("x\n")
    plugins = [installed()["thumbnails"], installed()["hashing"], LoadedPlugin(_Trap, "test")]
    with open_evidence(evidence) as ev, CaseStore.open(root / "case") as store:
        Pipeline(ev, store, plugins, {}, Settings(progress=False)).run()
    assert dftk("report", root / "case", "-o", root / "out", "--format", "json,html").exit_code == 0
    return root / "out" / "report.html"


def test_page_is_self_contained(page: Path) -> None:
    text = page.read_text()
    assert not re.search(r"(src|href)=[\"'](https?:|//)", text)
    assert "Content-Security-Policy" in text


def test_no_script_from_the_evidence_runs(page: Path, tmp_path: Path) -> None:
    result = _chromium("--dump-dom", page.as_uri(), tmp_path=tmp_path)
    dom = result.stdout
    assert "Case summary" in dom, result.stderr[-2000:]
    body = re.search(r"<body[^>]*>", dom)
    assert body is not None and "data-pwned" not in body.group(0)
    assert "&lt;script&gt;document.body.setAttribute" in dom  # shown as text, not run
    assert "data-pwned','uri'" not in re.sub(r"&[a-z]+;", "", dom.split("id=\"images\"")[1].split("<h2")[0])


def test_screenshot_shows_summary_and_thumbnail(page: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    result = _chromium(f"--screenshot={shot}", "--window-size=1280,2400", "--hide-scrollbars", page.as_uri(),
                       tmp_path=tmp_path)
    assert shot.exists(), result.stderr[-2000:]
    with Image.open(shot) as picture:
        pixels = picture.convert("RGB").tobytes()
    triples = [pixels[i:i + 3] for i in range(0, len(pixels), 3)]
    red = sum(1 for r, g, b in triples if r > 180 and g < 80 and b < 80)
    dark = sum(1 for r, g, b in triples if r < 80 and g < 80 and b < 80)
    assert red > 5000, "the red thumbnail is not visible"
    assert dark > 2000, "no text rendered"
    findings = json.loads((page.parent / "report.json").read_text())["summary"]["findings_by_kind"]
    assert findings["image/thumbnail"] == 2
