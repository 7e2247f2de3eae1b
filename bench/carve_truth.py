"""Helper of bench/carve.sh: builds the carving test image with its ground truth, and scores the carvers.

  carve_truth.py build WORK SIZE_MIB TESTDATA    -> WORK/image.dd, WORK/truth.json
  carve_truth.py score WORK TIMES_FILE           -> prints the table

Source files are read in place from TESTDATA (../shared/testdata); generated files (Pillow images, SQLite,
ZIP) are made in memory. Every file starts at a 512-byte boundary between filler (random bytes, zeros,
text); at least 10% of the files over 64 KiB are split in two fragments with 16-256 KiB of filler between
them. Not a test.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import random
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

SECTOR = 512
KiB, MiB = 1024, 1024 * 1024
SEED = 20261127


# ----------------------------------------------------------------------------------------------- sources

def _first(root: Path, *subs: str) -> Path | None:
    for s in subs:
        if (root / s).is_dir():
            return root / s
    return None


def _is_pe(data: bytes) -> bool:
    if len(data) < 64 or data[:2] != b"MZ":
        return False
    off = struct.unpack_from("<I", data, 0x3C)[0]
    return off + 4 <= len(data) and data[off:off + 4] == b"PE\0\0"


def _jpeg_ok(data: bytes) -> bool:
    from PIL import Image
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
        return data[:3] == b"\xff\xd8\xff"
    except Exception:
        return False


def _ooxml_ok(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return "[Content_Types].xml" in z.namelist() and z.testzip() is None and \
                "EncryptedPackage" not in z.namelist()
    except Exception:
        return False


BAD_WORDS = ("broken", "corrupt", "empty", "invalid", "encrypt", "magic_bytes_only")


def real_files(td: Path) -> list[tuple[str, str, bytes]]:
    """(type, source name, bytes) of the usable third-party files."""
    out: list[tuple[str, str, bytes]] = []

    def bad(p: Path) -> bool:
        return any(w in p.as_posix().lower() for w in BAD_WORDS)

    jpg = td / "exif-py" / "jpg"
    if jpg.is_dir():
        for p in sorted(jpg.rglob("*")):
            rel = p.relative_to(jpg).parts
            if not p.is_file() or p.suffix.lower() not in (".jpg", ".jpeg") or rel[0] in ("tests", "invalid") or bad(p):
                continue
            d = p.read_bytes()
            if _jpeg_ok(d):
                out.append(("jpeg", str(p.relative_to(td)), d))
    pdf = td / "py-pdf-sample-files"
    if pdf.is_dir():
        for p in sorted(pdf.rglob("*.pdf")):
            d = p.read_bytes()
            if d.startswith(b"%PDF-"):
                out.append(("pdf", str(p.relative_to(td)), d))
    ole = _first(td / "oletools", "tests/test-data", ".")
    office = [ole] if ole else []
    if (td / "plaso").is_dir():
        office.append(td / "plaso")
    for root in office:
        for p in sorted(root.rglob("*") if root.name != "plaso" else root.glob("Document.*")):
            ext = p.suffix.lower().lstrip(".")
            if not p.is_file() or ext not in ("doc", "xls", "ppt", "docx", "xlsx", "pptx") or bad(p):
                continue
            d = p.read_bytes()
            if ext in ("doc", "xls", "ppt") and d[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" and len(d) % 512 == 0:
                out.append(("ole2-" + ext, str(p.relative_to(td)), d))
            elif ext in ("docx", "xlsx", "pptx") and d[:4] == b"PK\x03\x04" and _ooxml_ok(d):
                out.append((ext, str(p.relative_to(td)), d))
    audio = _first(td / "tinytag", "tinytag/tests/samples", ".")
    if audio:
        for p in sorted(audio.rglob("*")):
            ext = p.suffix.lower().lstrip(".")
            if not p.is_file() or ext not in ("wav", "mp3", "flac", "ogg") or bad(p):
                continue
            d = p.read_bytes()
            ok = {"wav": d[:4] == b"RIFF" and d[8:12] == b"WAVE" and struct.unpack_from("<I", d, 4)[0] + 8 == len(d),
                  "flac": d[:4] == b"fLaC" or d[:3] == b"ID3",
                  "ogg": d[:4] == b"OggS",
                  "mp3": d[:3] == b"ID3" or (len(d) > 1 and d[0] == 0xFF and d[1] & 0xE0 == 0xE0)}[ext]
            if ok and len(d) >= 1024:
                out.append((ext, str(p.relative_to(td)), d))
    pes = []
    if (td / "yara" / "data").is_dir():
        pes += sorted(p for p in (td / "yara" / "data").iterdir() if p.is_file())
    pes += [td / "plaso" / "test_pe.exe", td / "plaso" / "test_driver.sys"]
    for p in pes:
        if p.is_file():
            d = p.read_bytes()
            if _is_pe(d):
                out.append(("pe", str(p.relative_to(td)), d))
    # ISO base media files wherever they are (HEIC under exif-py, M4A/MP4 under tinytag), found by their ftyp.
    for p in sorted(td.rglob("*")):
        if not p.is_file() or bad(p) or p.stat().st_size < 64:
            continue
        with p.open("rb") as f:
            if f.read(12)[4:8] != b"ftyp":
                continue
        d = p.read_bytes()
        if _isobmff_ok(d):
            out.append((_isobmff_type(d), str(p.relative_to(td)), d))
    return out


def _isobmff_ok(data: bytes) -> bool:
    """Whole and consistent: the top-level boxes fill the file exactly, a moov or meta is there, and every
    stco chunk offset is inside (tinytag keeps fixtures whose audio was stripped: those are no real files)."""
    pos, index = 0, False
    while pos + 8 <= len(data):
        size, typ = struct.unpack_from(">I4s", data, pos)
        if size == 1 and pos + 16 <= len(data):
            size = struct.unpack_from(">Q", data, pos + 8)[0]
        if size < 8 or pos + size > len(data):
            return False
        index = index or typ in (b"moov", b"meta")
        pos += size
    if pos != len(data) or not index:
        return False
    at = data.find(b"stco")
    while at > 0 and at + 12 <= len(data):
        count = struct.unpack_from(">I", data, at + 8)[0]
        offsets = struct.unpack_from(f">{count}I", data, at + 12) if at + 12 + 4 * count <= len(data) else (len(data),)
        if any(o >= len(data) for o in offsets):
            return False
        at = data.find(b"stco", at + 4)
    return True


def _isobmff_type(data: bytes) -> str:
    """m4a, mov, heic (the HEIF family, AVIF included) or mp4, from the ftyp brands."""
    brands = {data[i:i + 4] for i in range(8, struct.unpack_from(">I", data)[0], 4)}
    if brands & {b"M4A ", b"M4B ", b"M4P "}:
        return "m4a"
    if b"qt  " in brands:
        return "mov"
    if brands & {b"heic", b"heix", b"mif1", b"msf1", b"avif"}:
        return "heic"
    return "mp4"


# -------------------------------------------------------------------------------------------- generated

def _noise_image(rng: random.Random, w: int, h: int, mode: str = "RGB"):
    """Noise with a gradient band, so the pictures compress a little and differ from one another."""
    from PIL import Image, ImageDraw
    bands = {"RGB": 3, "L": 1, "P": 1}[mode]
    im = Image.frombytes("L" if mode == "P" else mode, (w, h), rng.randbytes(w * h * bands))
    draw = ImageDraw.Draw(im)
    y0 = rng.randrange(0, max(1, h // 2))
    for y in range(y0, min(h, y0 + h // 3)):
        c = (y * 255 // h)
        draw.line([(0, y), (w, y)], fill=(c, 255 - c, (c * 7) % 256) if mode == "RGB" else c)
    if mode == "P":
        im = im.convert("P")
    return im


def gen_image(rng: random.Random, kind: str, target: int) -> bytes:
    """A Pillow image of about `target` bytes."""
    buf = io.BytesIO()
    if kind == "png":
        side = max(16, int(math.sqrt(target / 3)))
        _noise_image(rng, side, side).save(buf, "PNG", compress_level=1)
    elif kind == "bmp":
        side = max(16, int(math.sqrt(target / 3)))
        _noise_image(rng, side, side).save(buf, "BMP")
    elif kind == "tiff":
        side = max(16, int(math.sqrt(target / 3)))
        _noise_image(rng, side, side).save(buf, "TIFF")
    elif kind == "gif":
        side = max(16, int(math.sqrt(target * 0.8)))
        _noise_image(rng, side, side, "P").save(buf, "GIF")
    elif kind == "webp":
        side = max(16, int(math.sqrt(target / 2.2)))
        _noise_image(rng, side, side).save(buf, "WEBP", quality=90, method=0)
    return buf.getvalue()


WORDS = ("evidence case report invoice custody analyst drive sector volume partition journal record account "
         "transfer meeting contract password server backup archive email photo memory timeline registry").split()


def text_bytes(rng: random.Random, n: int) -> bytes:
    lines = []
    total = 0
    while total < n:
        line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 14))).capitalize() + ".\n"
        lines.append(line)
        total += len(line)
    return "".join(lines).encode()[:n]


def gen_sqlite(rng: random.Random, rows: int) -> bytes:
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "db.sqlite")
        con = sqlite3.connect(path)
        con.execute("PRAGMA journal_mode=DELETE")
        con.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT, body TEXT, blob BLOB)")
        con.executemany("INSERT INTO notes (title, body, blob) VALUES (?, ?, ?)",
                        [(rng.choice(WORDS), text_bytes(rng, rng.randint(50, 400)).decode(), rng.randbytes(rng.randint(0, 300)))
                         for _ in range(rows)])
        con.execute("CREATE INDEX notes_title ON notes(title)")
        con.commit()
        con.close()
        return Path(path).read_bytes()


def gen_zip(rng: random.Random, members: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for i in range(members):
            if rng.random() < 0.5:
                z.writestr(f"docs/note_{i}.txt", text_bytes(rng, rng.randint(1 * KiB, 200 * KiB)), zipfile.ZIP_DEFLATED)
            else:
                z.writestr(f"data/blob_{i}.bin", rng.randbytes(rng.randint(1 * KiB, 300 * KiB)), zipfile.ZIP_STORED)
    return buf.getvalue()


# ------------------------------------------------------------------------------------------------ build

def filler(rng: random.Random, n: int) -> bytes:
    kind = rng.choice(("random", "random", "zeros", "text"))
    if kind == "random":
        return rng.randbytes(n)
    if kind == "zeros":
        return bytes(n)
    return text_bytes(rng, n)


def complete(file: tuple[str, str, bytes], td: Path) -> bool:
    """Whether a third-party audio sample is a whole file, by the format's own tools: test suites keep samples
    cut mid-frame or mid-tag on purpose (tinytag does), and where such a file ends in an image is unknowable
    to any carver. mp3val must not say "truncated" or "garbage at the end"; `flac -t` must decode the FLAC."""
    kind, source, _ = file
    if kind == "mp3":
        said = subprocess.run(["mp3val", str(td / source)], capture_output=True, text=True).stdout.lower()
        return "truncated" not in said and "garbage at the end" not in said
    if kind == "flac":
        return subprocess.run(["flac", "-t", "-s", str(td / source)], capture_output=True).returncode == 0
    return True


def build(work: Path, size_mib: int, td: Path) -> None:
    rng = random.Random(SEED)
    size = size_mib * MiB
    files: list[tuple[str, str, bytes]] = [f for f in real_files(td) if complete(f, td)]
    for i in range(6):
        files.append(("sqlite", f"generated/db{i}.sqlite", gen_sqlite(rng, rng.choice((40, 300, 1500, 4000)))))
    for i in range(6):
        files.append(("zip", f"generated/archive{i}.zip", gen_zip(rng, rng.randint(2, 12))))
    small = {"png": 10, "gif": 8, "bmp": 8, "tiff": 8, "webp": 8}
    for kind, n in small.items():
        for i in range(n):
            target = rng.choice((8 * KiB, 40 * KiB, 120 * KiB, 400 * KiB, 900 * KiB))
            files.append((kind, f"generated/small{i}.{kind}", gen_image(rng, kind, target)))
    # Large generated pictures until the files fill about 65% of the image; filler takes the rest.
    big_kinds = ("png", "bmp", "tiff", "gif", "png", "bmp")
    i = 0
    while sum(len(f[2]) for f in files) < 0.65 * size:
        kind = big_kinds[i % len(big_kinds)]
        target = rng.randint(1 * MiB, 8 * MiB) if kind != "gif" else rng.randint(1 * MiB, 3 * MiB)
        files.append((kind, f"generated/large{i}.{kind}", gen_image(rng, kind, target)))
        i += 1
    # One copy of each content.
    seen, uniq = set(), []
    for f in files:
        h = hashlib.sha256(f[2]).hexdigest()
        if h not in seen:
            seen.add(h)
            uniq.append(f)
    files = uniq
    rng.shuffle(files)
    big = [i for i, f in enumerate(files) if len(f[2]) > 64 * KiB]
    frag = set(rng.sample(big, max(1, math.ceil(0.15 * len(big)))))
    gaps = {i: rng.randint(32, 512) * SECTOR for i in frag}  # 16..256 KiB
    used = sum(-(-len(f[2]) // SECTOR) * SECTOR for f in files) + sum(gaps.values())
    free = size - used
    if free < (len(files) + 1) * SECTOR:
        sys.exit(f"files ({used} bytes) do not fit in {size_mib} MiB")
    weights = [rng.random() + 0.05 for _ in range(len(files) + 1)]
    slots = [int(free * w / sum(weights)) // SECTOR * SECTOR for w in weights]
    truth = []
    with (work / "image.dd").open("wb") as out:
        for i, (kind, name, data) in enumerate(files):
            out.write(filler(rng, slots[i]))
            pos = out.tell()
            assert pos % SECTOR == 0
            if i in frag:
                cut = rng.randint(len(data) // 4 // SECTOR, 3 * len(data) // 4 // SECTOR) * SECTOR
                cut = max(SECTOR, cut)
                out.write(data[:cut])
                out.write(filler(rng, gaps[i]))
                second = out.tell()
                out.write(data[cut:])
                fragments = [[pos, cut], [second, len(data) - cut]]
            else:
                out.write(data)
                fragments = [[pos, len(data)]]
            tail = -len(data) % SECTOR
            out.write(filler(rng, tail) if tail else b"")
            truth.append({"type": kind, "source": name, "offset": pos, "size": len(data),
                          "sha256": hashlib.sha256(data).hexdigest(), "fragmented": i in frag,
                          "fragments": fragments})
        out.write(filler(rng, size - out.tell()))
    (work / "truth.json").write_text(json.dumps(truth, indent=1))
    types = sorted({t["type"] for t in truth})
    nfrag = sum(t["fragmented"] for t in truth)
    print(f"image {size_mib} MiB: {len(truth)} files ({sum(t['size'] for t in truth) / MiB:.1f} MiB) of "
          f"{len(types)} types, {nfrag} of {len(big)} files over 64 KiB in two fragments")
    counts = {}
    for t in truth:
        counts[t["type"]] = counts.get(t["type"], 0) + 1
    print("  " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))


# ------------------------------------------------------------------------------------------------ score

def _sha(p: Path) -> str:
    h = hashlib.sha256()
    with p.open("rb") as f:
        while b := f.read(MiB):
            h.update(b)
    return h.hexdigest()


def outputs(tool: str, d: Path) -> list[Path]:
    """The files a tool carved (top-level ones for dftk)."""
    if tool == "dftk":
        rows = [json.loads(line) for line in (d / "manifest.jsonl").read_text().splitlines() if line.strip()]
        return [d / r["path"] if not Path(r["path"]).is_absolute() else Path(r["path"])
                for r in rows if r.get("embedded_in") is None]
    if not d.is_dir():
        return []
    skip = {"audit.txt", "report.xml"}
    return sorted(p for p in d.rglob("*") if p.is_file() and p.name not in skip)


def _print_rounds(runs: dict[str, list[float]]) -> None:
    """Every timed run of dftk and PhotoRec in turn, and how the rounds compare: the best-of ratio above
    hides how much a single run varies."""
    dftk, photorec = runs.get("dftk", []), runs.get("photorec", [])
    if len(dftk) < 2 or len(dftk) != len(photorec):
        return
    print()
    for name in ("dftk", "dftk_1w", "photorec"):
        if name in runs:
            print(f"{name + ' runs':<14} " + " ".join(f"{t:5.2f}" for t in runs[name]) + " s")
    ratios = sorted(d / p for d, p in zip(dftk, photorec, strict=True))
    median = statistics.median(ratios)
    faster = sum(d < p for d, p in zip(dftk, photorec, strict=True))
    print(f"dftk/photorec by round: median {median:.2f}, from {ratios[0]:.2f} to {ratios[-1]:.2f}; "
          f"dftk faster in {faster} of {len(dftk)} rounds")


def score(work: Path, times_file: Path) -> None:
    truth = json.loads((work / "truth.json").read_text())
    planted = {t["sha256"] for t in truth}
    sizes = {t["size"] for t in truth}
    times: dict[str, str] = {}
    runs: dict[str, list[float]] = {}
    for line in times_file.read_text().splitlines():  # a tool run several times: its best time
        if line.strip():
            name, took = line.split()
            times[name] = took if name not in times else str(min(float(took), float(times[name])))
            runs.setdefault(name, []).append(float(took))
    tools = [("dftk", work / "out_dftk"), ("photorec", work / "out_photorec"),
             ("foremost", work / "out_foremost"), ("scalpel", work / "out_scalpel")]
    nfrag = sum(t["fragmented"] for t in truth)
    found: dict[str, set[str]] = {}
    rows = []
    for tool, d in tools:
        outs = outputs(tool, d)
        hashes = [(p, _sha(p)) if p.stat().st_size in sizes else (p, "") for p in outs if p.is_file()]
        got = {h for _, h in hashes if h in planted}
        found[tool] = got
        if tool == "dftk":  # embedded outputs count toward recall too
            rows_all = [json.loads(line) for line in (d / "manifest.jsonl").read_text().splitlines() if line.strip()]
            got |= {r["sha256"] for r in rows_all if r["sha256"] in planted}
        good = sum(1 for _, h in hashes if h in planted)
        rec = len(got)
        fr = sum(1 for t in truth if t["fragmented"] and t["sha256"] in got)
        rows.append((tool, rec, len(truth), good, len(hashes), fr, nfrag, float(times.get(tool, "nan"))))
    pr = float(times.get("photorec", "nan"))
    print()
    print(f"{'tool':<10} {'recall':>16} {'precision':>18} {'fragmented':>11} {'wall':>9}  dftk/photorec")
    for tool, rec, n, good, outs, fr, nf, t in rows:
        prec = f"{good / outs:6.1%} ({good}/{outs})" if outs else "   -  (0/0)"
        ratio = f"{t / pr:.2f}" if tool == "dftk" and pr == pr and pr > 0 else ""
        print(f"{tool:<10} {rec / n:6.1%} ({rec:>3}/{n}) {prec:>18} {fr:>5}/{nf:<5} {t:8.1f}s  {ratio}")
        if tool == "dftk" and "dftk_1w" in times:
            one = float(times["dftk_1w"])
            print(f"{'  1 worker':<10} {'':>16} {'':>18} {'':>11} {one:8.1f}s  {one / pr:.2f}")
    _print_rounds(runs)
    # Per-type recall (dftk asked for; the others for comparison).
    print()
    types = sorted({t["type"] for t in truth})
    print(f"recall per type {'(planted n)':>12}  " + "  ".join(f"{tool:>9}" for tool, _ in tools))
    for ty in types:
        ts = [t for t in truth if t["type"] == ty]
        cells = []
        for tool, _ in tools:
            k = sum(1 for t in ts if t["sha256"] in found[tool])
            cells.append(f"{k:>4}/{len(ts):<4}")
        print(f"  {ty:<12} {len(ts):>10}    " + "  ".join(f"{c:>9}" for c in cells))
    # What dftk missed, and its outputs that are not planted files (for a reader to judge).
    d = work / "out_dftk"
    if (d / "manifest.jsonl").is_file():
        mrows = [json.loads(line) for line in (d / "manifest.jsonl").read_text().splitlines() if line.strip()]
        top = [r for r in mrows if r.get("embedded_in") is None]
        by_off = {r["offset"]: r for r in top}
        missed = [t for t in truth if t["sha256"] not in found["dftk"]]
        unsupported = _unsupported({t["type"] for t in truth})
        counts = {u: sum(1 for t in missed if t["type"] == u) for u in unsupported}
        missed = [t for t in missed if t["type"] not in unsupported]
        print()
        print("dftk misses of types it has no validator for: "
              + (", ".join(f"{k} {v}" for k, v in counts.items()) or "none"))
        print(f"dftk misses of types it carves ({len(missed)}): type, source, offset, size, F(ragmented) "
              "-> dftk output at that offset")
        for t in missed:
            r = by_off.get(t["offset"])
            seen = (f"{r['type']} {r['size']} bytes {r['validation']} conf {r['confidence']} "
                    f"frags {len(r['fragments'])}") if r else "nothing"
            print(f"  {t['type']:<9} {t['source'][-48:]:<48} {t['offset']:>10} {t['size']:>9} "
                  f"{'F' if t['fragmented'] else ' '} -> {seen}")
        extra = [r for r in top if r["sha256"] not in planted]
        print(f"dftk top-level outputs not planted files ({len(extra)}):")
        starts = {t["offset"]: t for t in truth}
        for r in extra:
            t = starts.get(r["offset"])
            where = f"start of planted {t['type']} {t['source'][-40:]} ({t['size']} bytes)" if t else "not a planted start"
            print(f"  {r['type']:<7} off {r['offset']:>10} size {r['size']:>9} {r['validation']:<7} "
                  f"conf {r['confidence']}: {where}")


def _unsupported(planted: set[str]) -> tuple[str, ...]:
    """Planted types for which dftk declares no carving format (asked of dftk itself, not hard-coded)."""
    from dftk_plugins.carving.formats import TYPE_NAMES

    family = {"ole2-doc": "ole2", "ole2-ppt": "ole2", "ole2-xls": "ole2", "docx": "zip", "xlsx": "zip",
              "pptx": "zip", "wav": "riff", "webp": "riff", "avi": "riff", "m4a": "isobmff", "mp4": "isobmff",
              "mov": "isobmff", "heic": "isobmff"}
    return tuple(sorted(t for t in planted if family.get(t, t) not in TYPE_NAMES))


if __name__ == "__main__":
    if sys.argv[1] == "build":
        build(Path(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]))
    elif sys.argv[1] == "score":
        score(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        sys.exit(__doc__)

