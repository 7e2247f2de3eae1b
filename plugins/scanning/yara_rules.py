"""The YARA discipline: rules matched against every file (with its path, inode and deleted flag) and
against the raw media (with image offsets, flagged when they fall in unallocated space).

Rules are compiled once per process (cached by path, modification time and options); worker processes
compile them again from the same paths. Each rule file is first compiled on its own, so one bad file (a
syntax error, an unknown module, an ``include`` without ``--yara-allow-include``) becomes a Problem naming
it while the other files are still used.

On raw media a rule's condition is evaluated per window (an 8 MiB chunk of the media pass plus the
overlap kept from the chunk before), so ``filesize`` and ``at 0`` refer to the window; string offsets are
image offsets, and a string match straddling two chunks is reported once. A rule that matches without
any string match (a condition-only rule) is reported once per evidence, at its first window.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import click
import yara

from dftk.api import (
    Buffer,
    Evidence,
    EvidenceFile,
    Finding,
    NotApplicable,
    Plugin,
    Problem,
    Record,
    UnallocatedMap,
    content_digests,
    mime_of,
    one_line,
    unallocated_map,
)
from dftk_plugins.scanning.windows import Window, Windows

RULE_SUFFIXES = (".yar", ".yara", ".rule", ".rules")
EXTERNALS = {"filename": "", "filepath": "", "extension": "", "filetype": ""}
LONGEST_STRING = 64 << 10  # far above YARA's own cap on the length of one string match (4096 bytes by default)


@dataclass(frozen=True, slots=True)
class CompiledRules:
    """The usable rules (None when no file compiled), and a Problem for each rule file left out."""

    rules: yara.Rules | None
    problems: tuple[Problem, ...]
    files: tuple[str, ...]
    uses_filetype: bool


_INCLUDE = re.compile(rb"^[ \t]*include[ \t]+\"", re.MULTILINE)
_CACHE: dict[tuple[object, ...], CompiledRules] = {}


def rule_files(paths: Iterable[str]) -> list[Path]:
    """The rule files named, folders expanded to the rule files under them (by suffix), in name order."""
    found: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in RULE_SUFFIXES)
        else:
            found.append(path)
    return found


def compile_rules(paths: Sequence[str], allow_include: bool = False) -> CompiledRules:
    """Compiles the rule files once per process; a file that does not compile becomes a Problem."""
    files = rule_files(paths)
    try:
        key: tuple[object, ...] = (allow_include, *((str(f), f.stat().st_mtime_ns) for f in files))
    except OSError as e:
        return CompiledRules(None, (Problem(str(e.filename), f"rules not readable: {e.strerror}"),), (), False)
    if key not in _CACHE:
        _CACHE[key] = _compile(files, allow_include)
    return _CACHE[key]


def _compile(files: list[Path], allow_include: bool) -> CompiledRules:
    usable: dict[str, str] = {}
    problems: list[Problem] = []
    uses_filetype = False
    for path in files:
        try:
            if not allow_include and _INCLUDE.search(path.read_bytes()):
                problems.append(Problem(str(path), "rules not used: this file uses `include`, refused unless "
                                                   "--yara-allow-include is given"))
                continue
            yara.compile(filepath=str(path), includes=allow_include, externals=EXTERNALS)
            uses_filetype = uses_filetype or allow_include or b"filetype" in path.read_bytes()
        except (yara.Error, OSError) as e:
            problems.append(Problem(str(path), _why_not_compiled(e)))
            continue
        usable[_namespace(path, usable)] = str(path)
    rules = yara.compile(filepaths=usable, includes=allow_include, externals=EXTERNALS) if usable else None
    return CompiledRules(rules, tuple(problems), tuple(usable.values()), uses_filetype)


def _why_not_compiled(error: Exception) -> str:
    text = one_line(error)
    if "include" in text.lower():
        return f"rules not used: this file uses `include`, refused unless --yara-allow-include is given ({text})"
    return f"rules not used: {text}"


def _namespace(path: Path, taken: dict[str, str]) -> str:
    name, n = path.name, 1
    while name in taken:
        n += 1
        name = f"{path.name}#{n}"
    return name


def _rules(opts: dict[str, Any]) -> CompiledRules:
    paths = tuple(opts.get("yara_rules") or ())
    if not paths:
        raise NotApplicable("no rules given (--yara-rules)")
    return compile_rules(paths, bool(opts.get("yara_allow_include")))


class YaraPlugin(Plugin):
    """Match YARA rules against every file and against the raw media (image offsets, unallocated flag)."""

    name: ClassVar[str] = "yara"
    discipline: ClassVar[str] = "digital"
    version: ClassVar[str] = "1.0.0"
    options: ClassVar[tuple[click.Option, ...]] = (
        click.Option(["--yara-rules"], multiple=True, metavar="PATH", type=click.Path(exists=True),
                     help="YARA rule file, or folder of *.yar/*.yara files (repeatable). Without it: skipped."),
        click.Option(["--yara-allow-include"], is_flag=True,
                     help="Allow `include` in rule files (refused by default: it reads other files)."),
        click.Option(["--yara-timeout"], type=click.IntRange(1), default=60, show_default=True,
                     help="Seconds YARA may spend on one file (or one media window); then a Problem."),
        click.Option(["--yara-max-size"], type=click.IntRange(0), default=1 << 30, show_default=True,
                     help="Files larger than this many bytes are not scanned (a Problem says so); 0: no limit."),
        click.Option(["--yara-max-strings"], type=click.IntRange(0), default=100, show_default=True,
                     help="String matches reported per rule and file; a Problem counts the rest."),
        click.Option(["--yara-raw/--yara-no-raw"], default=True, show_default=True,
                     help="Also scan the raw media, unallocated space included, with image offsets."),
    )

    def __init__(self) -> None:
        self._told: set[tuple[object, ...]] = set()

    @classmethod
    def work_identity(cls, options: dict[str, Any]) -> dict[str, Any]:
        """The options and each rule file's digest: an edited rule file means the files are scanned again.
        (Files pulled in by ``include`` are not digested; with --yara-allow-include, rerun into a new case.)"""
        return {**options, "rule_digests": content_digests(rule_files(options.get("yara_rules") or ()))}

    def analyze(self, file: EvidenceFile, data: Buffer, **opts: Any) -> Iterator[Record]:
        compiled = _rules(opts)
        yield from self._compile_problems(compiled)
        if compiled.rules is None:
            return
        limit = opts.get("yara_max_size", 0)
        if limit and len(data) > limit:
            yield Problem(file.path, f"not scanned by YARA: {len(data)} bytes, over --yara-max-size {limit}")
            return
        try:
            matches = compiled.rules.match(data=data, externals=_externals(file, data, compiled.uses_filetype),
                                           timeout=opts.get("yara_timeout", 60))
        except yara.TimeoutError:
            yield Problem(file.path, f"YARA scan abandoned after --yara-timeout {opts.get('yara_timeout')} s")
            return
        except yara.Error as e:
            yield Problem(file.path, f"YARA cannot scan the file: {e}")
            return
        place = {"scope": "file", "inode": file.inode, "deleted": file.deleted, "size": file.size}
        for match in sorted(matches, key=lambda m: (m.namespace, m.rule)):
            yield from _report(match, file.path, place, _instances(match), opts.get("yara_max_strings", 100))

    def media(self, evidence: Evidence, **opts: Any) -> RawYara:
        if not opts.get("yara_raw", True):
            raise NotApplicable("raw scan turned off (--yara-no-raw)")
        compiled = _rules(opts)
        if compiled.rules is None:
            raise NotApplicable("no usable rules")
        unallocated, problems = unallocated_map(evidence)
        return RawYara(compiled.rules, unallocated, [*self._compile_problems(compiled), *problems], opts)

    def _compile_problems(self, compiled: CompiledRules) -> list[Problem]:
        """The rule files left out, said once per process (the case store keeps one of each anyway)."""
        key = (compiled.files, compiled.problems)
        if key in self._told:
            return []
        self._told.add(key)
        return list(compiled.problems)


def _externals(file: EvidenceFile, data: Buffer, with_type: bool) -> dict[str, str]:
    name = file.path.rsplit("/", 1)[-1]
    extension = name.rsplit(".", 1)[-1].lower() if "." in name.lstrip(".") else ""
    filetype = mime_of(bytes(data[:8192])) if with_type else ""
    return {"filename": name, "filepath": file.path, "extension": extension, "filetype": filetype}


Instance = tuple[int, str, int, bytes]  # offset, identifier, length, matched bytes


def _instances(match: Any, shift: int = 0) -> list[Instance]:
    return sorted((inst.offset + shift, s.identifier, inst.matched_length, bytes(inst.matched_data))
                  for s in match.strings for inst in s.instances)


def _report(match: Any, subject: str, place: dict[str, Any], instances: list[Instance],
            cap: int) -> Iterator[Record]:
    strings = [{"identifier": ident, "offset": offset, "length": length, "data": data.hex()}
               for offset, ident, length, data in instances[:cap]]
    yield Finding("yara/match", subject, {
        "rule": match.rule, "namespace": match.namespace, "tags": sorted(match.tags),
        "meta": dict(sorted(match.meta.items())), "strings": strings, "string_matches": len(instances), **place})
    if len(instances) > cap:
        yield Problem(subject, f"rule {match.rule}: {len(instances)} string matches, only {cap} reported "
                               "(--yara-max-strings)")


class RawYara:
    """The rules over the raw media, fed by the shared media pass in overlapping windows."""

    def __init__(self, rules: yara.Rules, unallocated: UnallocatedMap, problems: list[Problem],
                 opts: dict[str, Any]) -> None:
        self.rules = rules
        self.unallocated = unallocated
        self.pending: list[Record] = list(problems)
        self.windows = Windows(LONGEST_STRING)
        self.timeout = int(opts.get("yara_timeout", 60))
        self.cap = int(opts.get("yara_max_strings", 100))
        self.condition_only: set[tuple[str, str]] = set()

    def feed(self, offset: int, data: bytes) -> list[Record]:
        records, self.pending = self.pending, []
        return records + list(self._scan(self.windows.push(offset, data)))

    def close(self) -> list[Record]:
        return self.pending + list(self._scan(self.windows.final()))

    def _scan(self, window: Window) -> Iterator[Record]:
        if not window.data:
            return
        where = f"offset:0x{window.start:x}"
        try:
            matches = self.rules.match(data=window.data, timeout=self.timeout)
        except yara.TimeoutError:
            yield Problem(where, f"YARA scan of {len(window.data)} bytes abandoned after --yara-timeout "
                                 f"{self.timeout} s")
            return
        except yara.Error as e:
            yield Problem(where, f"YARA cannot scan these bytes: {e}")
            return
        for match in sorted(matches, key=lambda m: (m.namespace, m.rule)):
            yield from self._raw_match(match, window)

    def _raw_match(self, match: Any, window: Window) -> Iterator[Record]:
        every = _instances(match, window.start)
        mine = [i for i in every if window.owns(i[0], i[0] + i[2])]
        if every and not mine:
            return  # all of them were reported from the window before
        if not every:
            if (match.namespace, match.rule) in self.condition_only:
                return
            self.condition_only.add((match.namespace, match.rule))
        first = mine[0][0] if mine else window.start
        place = {"scope": "raw", "offset": first, "window": [window.start, window.start + len(window.data)],
                 "unallocated": first in self.unallocated}
        yield from _report(match, f"offset:0x{first:x}", place, mine, self.cap)

