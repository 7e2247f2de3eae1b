"""What every layer passes on: a ``Finding`` (something found), a ``Problem`` (an item that could not be fully
processed), and the one canonical JSON form in which dftk stores and signs them.

A base module like ``errors``: it imports nothing else of dftk, so the evidence layer can yield Problems too.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dftk.errors import PluginError


@dataclass(frozen=True, slots=True)
class Finding:
    """Something a plugin found.

    Attributes:
        kind: namespaced, lower case: ``hash/file``, ``carve/jpeg``, ``media/exif``.
        subject: where: ``/Photos/a.jpg``, ``inode:15``, ``offset:0x1f400``, ``evidence``.
        data: JSON values only; bytes as hex; times as tz-aware UTC ISO 8601 strings.
    """

    kind: str
    subject: str
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Problem:
    """Trouble with one item that did not stop the plugin; it is recorded in the case and the report.

    The message is kept free of what differs from one run to the next (a Python object's address in a
    library's error text), so the same evidence gives the same problems, and the same digests.
    """

    subject: str
    message: str

    def __post_init__(self) -> None:
        if _ADDRESS.search(self.message):
            object.__setattr__(self, "message", _ADDRESS.sub(r"\1", self.message))


Record = Finding | Problem
# "<_io.BytesIO object at 0x7f..>" -> "<_io.BytesIO object>": the same input gives the same problem every run
_ADDRESS = re.compile(r"(<[^<>]*?) at 0x[0-9a-fA-F]+(?=>)")


def canonical_json(value: Any) -> str:
    """The one JSON form dftk stores and signs: sorted keys, UTF-8, no NaN, no floats that lose meaning."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def check_json(data: Mapping[str, Any], plugin: str) -> str:
    """Returns the canonical JSON of a finding's data, or raises PluginError if it is not JSON values."""
    try:
        _check_value(data)
        return canonical_json(dict(data))
    except (TypeError, ValueError) as e:
        raise PluginError(f"plugin {plugin} yielded data that is not JSON values: {e}") from e


def _check_value(value: Any) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"non-finite number {value}")
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"key {key!r} is not a string")
            _check_value(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _check_value(item)
    elif value is not None and not isinstance(value, (str, int, float, bool)):
        raise TypeError(f"{type(value).__name__} is not a JSON value")


# Conventions in finding data: how a finding reaches the report and the timeline without the core knowing the
# plugin or its kinds (docs/plugins.md, "Findings in the report and the timeline"). Keys starting with "@" are
# these hints; the fields they name stay ordinary data.
TIMES = "@times"  # {"field": "meaning"}: fields holding times found in the content -> timeline, activity chart
POSITION = "@position"  # ["latitude field", "longitude field"]: decimal degrees, WGS 84 -> the report's map
IMAGE = "@image"  # "field": a base64 JPEG or PNG -> shown as a picture, not as a table row
VALUE = "value"  # the field whose values the report counts per kind (most frequent values)
CHECK = "@check"  # "passed" or "failed": a comparison with a recorded value (a stored hash); failed -> exit 3
FILE_TIMES = ("mtime", "atime", "ctime", "crtime")  # a file's own times, as EvidenceFile.context() names them


def is_hint(key: str) -> bool:
    """Whether a data key is a presentation hint (``@times``...) rather than a finding's own field."""
    return key.startswith("@")
