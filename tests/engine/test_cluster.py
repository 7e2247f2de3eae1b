"""The Dask executor (``--scheduler``): the same findings, problems, output and report as ``--workers 1`` on a
LocalCluster of 2 workers; evidence a worker sees differently is refused naming the worker; a worker killed
mid-unit costs a retry and nothing else; a unit that keeps killing its worker becomes a Problem; TLS with
certificates made here. One LocalCluster serves the module and is stopped at its end."""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import json
import logging
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import dask
import psutil
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from distributed import Client, LocalCluster
from distributed.security import Security
from PIL import Image

from dftk.case.run import Pipeline
from dftk.case.store import CaseStore
from dftk.engine import cluster
from dftk.engine.contract import Plugin
from dftk.engine.engine import Settings
from dftk.engine.executors import InProcessExecutor, executor_for
from dftk.engine.registry import LoadedPlugin
from dftk.errors import DftkError, EvidenceError
from dftk.evidence import Evidence, EvidenceFile, EvidenceSpec, open_evidence
from dftk.evidence.base import LIVE
from dftk.fs.walk import files as walk_files
from dftk.records import Finding, Record
from helpers import FIXTURES, dftk, make_tree

IMAGES = sorted((FIXTURES / "images").glob("*.img"))
SCHEDULER = "local:2"
RULES = 'rule fixture { strings: $a = "dftk fixture" $b = ".txt" nocase $c = "hello" nocase condition: any of them }'


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    """The module's LocalCluster (the one ``--scheduler local:2`` names in this process), stopped at the end."""
    session = cluster.session(SCHEDULER)
    yield session.client
    pids = list(session.client.run(os.getpid).values())
    cluster.close_sessions()
    assert not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie" for pid in pids)


def records(case: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    with CaseStore.open(case, create=False) as store:
        return list(store.findings()), list(store.problems())


def run_start(case: Path) -> dict[str, Any]:
    with CaseStore.open(case, create=False) as store:
        return json.loads(next(e for e in store.events() if e["action"] == "run.start")["details"])


def walked(evidence: Evidence) -> list[str]:
    return [item.path for item in walk_files(evidence) if isinstance(item, EvidenceFile)]


# --- identical results ----------------------------------------------------------------------------


def _report(case: Path, out: Path) -> dict[str, Any]:
    assert dftk("report", case, "-o", out, "--format", "json", "--deterministic").exit_code == 0
    report = json.loads((out / "report.json").read_text())  # times, command lines and custody differ, rightly
    plugins = [{k: p[k] for k in ("plugin", "version", "options", "outcome", "findings", "problems")}
               for run in report["runs"] for p in run["plugins"]]
    return {k: report[k] for k in ("findings", "problems", "summary")} | {"plugins": plugins}


@pytest.mark.parametrize("image", IMAGES, ids=lambda p: p.name)
def test_run_on_a_cluster_equals_one_worker(image: Path, tmp_path: Path, client: Client) -> None:
    one = dftk("run", image, "--case", tmp_path / "one", "--workers", "1", "--no-progress")
    many = dftk("run", image, "--case", tmp_path / "many", "--scheduler", SCHEDULER, "--no-progress")
    assert many.exit_code == one.exit_code and one.exit_code in (0, 4), many.output
    findings, problems = records(tmp_path / "one")
    assert findings and records(tmp_path / "many") == (findings, problems)
    assert run_start(tmp_path / "many")["cluster"] == {"scheduler": SCHEDULER, "workers": 2,
                                                        "address": client.scheduler.address}
    assert "cluster" not in run_start(tmp_path / "one")
    if image.name == "ntfs.img":  # and the report, with --deterministic
        assert _report(tmp_path / "many", tmp_path / "r2") == _report(tmp_path / "one", tmp_path / "r1")


@pytest.mark.parametrize("image", IMAGES, ids=lambda p: p.name)
def test_scan_and_meta_on_a_cluster_equal_one_worker(image: Path, tmp_path: Path, client: Client) -> None:
    (tmp_path / "rules.yar").write_text(RULES)
    for command in (["scan", image, "--rules", tmp_path / "rules.yar", "--indicators", "--json", "--no-progress"],
                    ["meta", image, "--json"]):
        one = dftk(*command, "--workers", "1")
        many = dftk(*command, "--scheduler", SCHEDULER)
        assert (many.exit_code, many.stdout, many.stderr) == (one.exit_code, one.stdout, one.stderr)
        assert len(one.stdout.splitlines()) >= 3


def _planted_media(path: Path) -> None:
    """40 MiB of random bytes with a picture every ~2 MiB: files in three carving units and across borders."""
    rng = random.Random(19)
    media = bytearray(rng.randbytes(40 << 20))
    for n, offset in enumerate(range(4096, len(media) - (1 << 20), (2 << 20) + 7 * 512)):
        picture, out = Image.effect_noise((64 + n * 8, 48 + n * 4), 40 + n).convert("RGB"), BytesIO()
        picture.save(out, "JPEG" if n % 2 else "PNG")
        media[offset:offset + len(out.getvalue())] = out.getvalue()
    path.write_bytes(bytes(media))


def _carved(folder: Path) -> tuple[str, dict[str, str]]:
    return (folder / "manifest.jsonl").read_text(), {
        str(f.relative_to(folder)): hashlib.sha256(f.read_bytes()).hexdigest() for f in folder.rglob("*.*")}


def test_carve_on_a_cluster_equals_one_worker(tmp_path: Path, client: Client) -> None:
    _planted_media(tmp_path / "media.raw")
    for image in [*IMAGES, tmp_path / "media.raw"]:
        out = tmp_path / "out" / image.name
        one = dftk("carve", image, out / "one", "--evidence-format", "raw", "--workers", "1")
        many = dftk("carve", image, out / "many", "--evidence-format", "raw", "--scheduler", SCHEDULER)
        assert (many.exit_code, many.stderr) == (one.exit_code, one.stderr)
        assert _carved(out / "many") == _carved(out / "one")
    assert len(_carved(tmp_path / "out" / "media.raw" / "one")[0].splitlines()) >= 18


def _pipeline(evidence: Path, case: Path, plugin: type[Plugin], options: dict[str, Any] | None = None) -> Any:
    with open_evidence(evidence) as ev, CaseStore.open(case) as store:
        settings = Settings(progress=False, scheduler=SCHEDULER)
        return Pipeline(ev, store, [LoadedPlugin(plugin, "test")], {plugin.name: options or {}}, settings).run()


def test_evidence_in_memory_stays_in_this_process() -> None:
    assert isinstance(executor_for(1, Evidence.from_bytes(b"x" * 64), scheduler="local:7"), InProcessExecutor)
    assert "local:7" not in cluster._sessions


def test_a_plain_run_does_not_import_dask(tmp_path: Path) -> None:
    command = [sys.executable, "-X", "importtime", "-m", "dftk", "run", str(IMAGES[0]), "--case", str(tmp_path / "c"),
               "--plugin", "hashing", "--workers", "2"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0 and "dftk.cli" in result.stderr
    assert "distributed" not in result.stderr and "dask" not in result.stderr


def test_missing_dask_is_one_line_before_anything_happens(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # what `import distributed` meets without the package
    result = dftk("run", IMAGES[0], "--case", tmp_path / "case", "--scheduler", "local:3")
    assert result.exit_code == 1
    assert result.stderr == "dftk: error: --scheduler needs Dask: pip install 'dftk[cluster]'\n"
    assert not (tmp_path / "case").exists()
    assert dftk("run", IMAGES[0], "--case", tmp_path / "case", "--scheduler", "tcp:/x").exit_code == 2


# --- the evidence every worker sees ---------------------------------------------------------------

_planted: list[Evidence] = []  # in a worker: the evidence planted under another spec, kept alive


def _plant(path: str, other: str) -> None:
    """Runs on one worker: the spec of ``path`` opens ``other`` there (a stale or wrong copy on its mount)."""
    _planted.append(open_evidence(other))
    LIVE[EvidenceSpec(path, "auto")] = _planted[-1]


def test_a_worker_that_sees_other_evidence_stops_the_run_naming_it(tmp_path: Path, client: Client) -> None:
    image = tmp_path / "ext4.img"
    shutil.copy(FIXTURES / "images" / "ext4.img", image)
    worker = sorted(client.nthreads())[1]
    client.run(_plant, str(image), str(FIXTURES / "images" / "fat16.img"), workers=[worker])
    result = dftk("run", image, "--case", tmp_path / "case", "--plugin", "hashing", "--scheduler", SCHEDULER)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [result.stderr.strip()] and worker in result.stderr
    assert f"{image}: Dask worker {worker} does not see the same evidence: " in result.stderr
    assert sorted(client.nthreads())[0] not in result.stderr
    with open_evidence(image) as ev, pytest.raises(EvidenceError, match=f"Dask worker {worker} .*fat16.img there"):
        cluster.session(SCHEDULER).check(ev)  # before dispatch: no unit needed to find it
    client.run(_planted.clear, workers=[worker])


def test_a_worker_that_joins_later_checks_before_its_first_unit(tmp_path: Path) -> None:
    image = tmp_path / "ext2.img"
    shutil.copy(FIXTURES / "images" / "ext2.img", image)
    with open_evidence(image) as ev:
        before = cluster.fingerprint(ev)
        assert cluster._Checked(len, ev.spec, before, "a run")([1, 2]) == 2
        data = bytearray(image.read_bytes())
        data[-1] ^= 1  # one byte in the last MiB, as a worker's stale copy would differ
        image.write_bytes(data)
        unit = cluster._Checked(len, ev.spec, before, "another run")
        with pytest.raises(EvidenceError, match=r"does not see the same evidence: \S+ext2.img: its first or last"):
            unit([1])


def test_a_folder_fingerprint_lists_every_file_and_reads_a_few(tmp_path: Path) -> None:
    make_tree(tmp_path / "ev", 100)
    with open_evidence(tmp_path / "ev") as ev:
        before = cluster.fingerprint(ev)
    assert len(before.edges) == cluster.SAMPLED
    (tmp_path / "ev" / "d03" / "e3" / "file00003.txt").write_bytes(b"longer than it was before, by some bytes")
    with open_evidence(tmp_path / "ev") as ev:
        assert cluster.difference(cluster.fingerprint(ev), before) is not None


def test_a_worker_with_several_threads_is_refused() -> None:
    session = object.__new__(cluster.Session)
    session.client = SimpleNamespace(nthreads=lambda: {"tcp://10.0.0.7:4000": 1, "tcp://10.0.0.8:4000": 4})
    with pytest.raises(DftkError, match=r"worker tcp://10\.0\.0\.8:4000 runs 4 threads"):
        session.check(Evidence.from_bytes(b"x"))


# --- faults ---------------------------------------------------------------------------------------


class Sleepy(Plugin):
    """Hashes each file slowly, saying in which process; on the victim file (the first time) it waits to be
    killed."""

    name: ClassVar[str] = "sleepy"
    discipline: ClassVar[str] = "test"
    version: ClassVar[str] = "1.0.0"

    def analyze(self, file: EvidenceFile, data: Any, **opts: Any) -> Iterator[Record]:
        log = Path(opts["sleepy_log"])
        with (log / "calls").open("a") as calls:
            calls.write(f"{file.path}\n")
        if file.path == opts["sleepy_victim"] and not (log / "victim").exists():
            (log / "victim.tmp").write_text(str(os.getpid()))
            (log / "victim.tmp").rename(log / "victim")
            time.sleep(60)  # killed here, mid-unit
        time.sleep(0.01)
        yield Finding("test/sha256", file.path, {"sha256": hashlib.sha256(data).hexdigest(), "pid": os.getpid()})


def _kill_the_victim(log: Path, killed: list[int]) -> None:
    for _ in range(3000):  # at most a minute
        if (log / "victim").exists():
            killed.append(int((log / "victim").read_text()))
            os.kill(killed[0], signal.SIGKILL)
            return
        time.sleep(0.02)


def test_a_worker_killed_mid_unit_costs_a_retry_and_nothing_else(tmp_path: Path, client: Client) -> None:
    files = make_tree(tmp_path / "ev", 120)
    (tmp_path / "log").mkdir()
    with open_evidence(tmp_path / "ev") as ev:
        victim = walked(ev)[40]
    killed: list[int] = []
    killer = threading.Thread(target=_kill_the_victim, args=(tmp_path / "log", killed))
    killer.start()
    summary = _pipeline(tmp_path / "ev", tmp_path / "case", Sleepy,
                        {"sleepy_log": str(tmp_path / "log"), "sleepy_victim": victim})
    killer.join()
    findings, problems = records(tmp_path / "case")
    expected = {"/" + str(f.relative_to(tmp_path / "ev")): hashlib.sha256(f.read_bytes()).hexdigest() for f in files}
    assert {f["subject"]: json.loads(f["data"])["sha256"] for f in findings} == expected
    assert len(findings) == 120 and problems == [] and summary.status == "completed"
    calls = (tmp_path / "log" / "calls").read_text().splitlines()
    assert calls.count(victim) == 2 and set(calls) == set(expected)  # the killed unit ran again, elsewhere
    workers = set(client.run(os.getpid).values())
    assert killed and killed[0] not in workers
    pids = {json.loads(f["data"])["pid"] for f in findings}  # the units ran on the cluster's workers, not here
    # which workers took the rest depends on timing: a run where the survivor took them all is correct too
    assert pids and pids <= workers | set(killed) and os.getpid() not in pids


def _done(case: Path) -> int:
    try:  # read-only, beside the writer
        with sqlite3.connect(f"file:{case / 'case.sqlite'}?mode=ro", uri=True) as db:
            return int(db.execute("SELECT count(*) FROM done").fetchone()[0])
    except sqlite3.Error:  # not created yet
        return 0


@pytest.mark.slow
def test_an_interrupted_cluster_run_resumes_without_duplicates(tmp_path: Path) -> None:
    evidence, case = tmp_path / "ev", tmp_path / "case"
    make_tree(evidence, 300)
    command = [sys.executable, "-m", "dftk", "run", str(evidence), "--case", str(case), "--plugin", "linecount",
               "--plugin", "hashing", "--linecount-delay-ms", "10", "--scheduler", "local:2", "--no-progress"]
    run = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while _done(case) < 150 and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.05)
    run.send_signal(signal.SIGINT)  # the examiner's Ctrl-C, to dftk alone: the cluster is dftk's to stop
    _, err = run.communicate(timeout=60)
    assert run.returncode == 130, err
    assert 0 < len(records(case)[0]) < 600
    assert subprocess.run(command, capture_output=True, timeout=120, check=False).returncode == 0
    plugins = ["--plugin", "linecount", "--plugin", "hashing"]
    assert dftk("run", evidence, "--case", tmp_path / "one", *plugins).exit_code == 0
    findings = records(case)[0]
    assert len(findings) == 600 and findings == records(tmp_path / "one")[0]


class Crashy(Plugin):
    """Kills its worker process on one file, every time."""

    name: ClassVar[str] = "crashy"
    discipline: ClassVar[str] = "test"
    version: ClassVar[str] = "1.0.0"

    def analyze(self, file: EvidenceFile, data: Any, **opts: Any) -> Iterator[Record]:
        if file.path == opts["crashy_victim"]:
            os._exit(13)
        yield Finding("test/size", file.path, {"size": len(data)})


@pytest.mark.slow
def test_a_unit_that_keeps_killing_its_worker_becomes_a_problem(tmp_path: Path, client: Client) -> None:
    make_tree(tmp_path / "ev", 30)
    with open_evidence(tmp_path / "ev") as ev:
        paths = walked(ev)
    summary = _pipeline(tmp_path / "ev", tmp_path / "case", Crashy, {"crashy_victim": paths[0]})  # a unit alone
    findings, problems = records(tmp_path / "case")
    assert summary.status == "completed" and sorted(f["subject"] for f in findings) == sorted(paths[1:])
    assert [(p["plugin"], p["subject"]) for p in problems] == [("dftk", paths[0])]
    tries = cluster.ALLOWED_FAILURES + 1
    assert f"not analysed: worker process died on each of {tries} tries" in problems[0]["message"]


# --- TLS ------------------------------------------------------------------------------------------


def _certificates(folder: Path) -> dict[str, str]:
    """A CA and one certificate it signs for 127.0.0.1, used by scheduler, worker and client alike."""
    now, keys = datetime.datetime.now(datetime.UTC), [ec.generate_private_key(ec.SECP256R1()) for _ in "ab"]
    names = [x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]) for name in ("dftk test CA", "127.0.0.1")]
    extensions = [x509.BasicConstraints(ca=True, path_length=None),
                  x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])]
    pems = [x509.CertificateBuilder().subject_name(name).issuer_name(names[0]).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(hours=1)).add_extension(extension, True)
            .sign(keys[0], hashes.SHA256()).public_bytes(serialization.Encoding.PEM)
            for name, key, extension in zip(names, keys, extensions, strict=True)]
    pems.append(keys[1].private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    folder.mkdir(exist_ok=True)
    for name, pem in zip(("ca", "cert", "key"), pems, strict=True):
        (folder / f"{name}.pem").write_bytes(pem)
    return {name: str(folder / f"{name}.pem") for name in ("ca", "cert", "key")}


@pytest.mark.slow
def test_a_tls_cluster_with_dasks_own_tls_settings(tmp_path: Path) -> None:
    pem, strange = _certificates(tmp_path), _certificates(tmp_path / "other")
    roles = {f"tls_{role}_{part}": pem[part] for role in ("scheduler", "worker", "client") for part in ("cert", "key")}
    security = Security(tls_ca_file=pem["ca"], require_encryption=True, **roles)
    image = FIXTURES / "images" / "ext2.img"
    with LocalCluster(n_workers=1, threads_per_worker=1, protocol="tls://", host="127.0.0.1", security=security,
                      dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR) as tls:
        address = tls.scheduler_address
        for name, env in (("plain", {}), ("strange", _tls_environment(strange))):  # no settings, another CA
            command = [sys.executable, "-m", "dftk", "run", str(image), "--case", str(tmp_path / name),
                       "--scheduler", address]
            refused = subprocess.run(command, capture_output=True, text=True, timeout=120, env={**os.environ, **env})
            assert refused.returncode == 1 and len(refused.stderr.splitlines()) == 1, refused.stderr
            assert refused.stderr.startswith(f"dftk: error: cannot use the Dask scheduler at {address}: ")
        try:
            with dask.config.set({f"distributed.comm.tls.{key}": pem[part] for key, part in TLS.items()}):
                result = dftk("run", image, "--case", tmp_path / "tls", "--plugin", "hashing", "--scheduler", address)
        finally:
            cluster.close_sessions(address)
    assert result.exit_code == 0, result.output
    assert dftk("run", image, "--case", tmp_path / "one", "--plugin", "hashing").exit_code == 0
    assert records(tmp_path / "tls") == records(tmp_path / "one") and records(tmp_path / "one")[0]
    assert run_start(tmp_path / "tls")["cluster"]["address"].startswith("tls://")


TLS = {"ca-file": "ca", "client.cert": "cert", "client.key": "key"}  # Dask's client TLS settings: which file


def _tls_environment(pem: dict[str, str]) -> dict[str, str]:
    """Dask's TLS settings for a client as environment variables (DASK_DISTRIBUTED__COMM__TLS__CA_FILE, ...)."""
    names = {key: key.upper().replace(".", "__").replace("-", "_") for key in TLS}
    return {f"DASK_DISTRIBUTED__COMM__TLS__{names[key]}": pem[part] for key, part in TLS.items()}
