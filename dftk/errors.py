"""The error tree. Every error the CLI reports is one of these, shown as a single line.

::

    DftkError (exit 1)
    ├── EvidenceError        cannot open or read the evidence (wraps OSError with ``raise ... from e``)
    ├── CaseError            the case folder or its store cannot be used
    ├── PluginError
    │   ├── NotApplicable    wrong format or missing optional dependency -> the run says "skipped: why"
    │   └── PluginLoadError  bad registration, names the plugin
    ├── ReportError
    └── SignatureError (exit 3)   a signature, hash or custody chain does not verify
    (click usage errors keep exit 2)

A command that finishes but could not process everything (a corrupt directory, a parser crash) prints its
problems and exits with ``INCOMPLETE`` (4): its output is partial.

One bad item inside the evidence is never an exception that escapes: it becomes a ``Problem``.
"""

from __future__ import annotations

INCOMPLETE = 4
INTERRUPTED = 130  # as a shell reports a process ended by Ctrl-C (128 + SIGINT)


class DftkError(Exception):
    """Base of every error dftk reports; ``exit_code`` is the process status the CLI uses."""

    exit_code = 1


class EvidenceError(DftkError):
    """The evidence cannot be opened or read."""


class CaseError(DftkError):
    """The case folder or its SQLite store cannot be used."""


class PluginError(DftkError):
    """A plugin cannot be used."""


class NotApplicable(PluginError):
    """The plugin does not apply to this evidence; the run records it as ``skipped: <reason>``."""


class PluginLoadError(PluginError):
    """A plugin registration is broken (import failure, bad attributes, duplicate name)."""


class ReportError(DftkError):
    """A report cannot be rendered."""


class SignatureError(DftkError):
    """A signature, hash or hash chain does not verify."""

    exit_code = 3


def one_line(text: object, limit: int | None = None) -> str:
    """An error's text on one line (libraries' messages span lines), cut at ``limit`` characters."""
    line = " ".join(str(text).split())
    return line if limit is None else line[:limit]
