"""DFXML output (the format of fiwalk): one ``<volume>`` per file system, one ``<fileobject>`` per entry."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from dftk import __version__

_HEAD = """<?xml version='1.0' encoding='UTF-8'?>
<dfxml xmlns='http://www.forensicswiki.org/wiki/Category:Digital_Forensics_XML'
  xmlns:dc='http://purl.org/dc/elements/1.1/' version='1.1.0'>
  <metadata>
    <dc:type>Disk Image</dc:type>
  </metadata>
  <creator version='1.0'>
    <program>dftk</program>
    <version>{version}</version>
  </creator>
  <source>
    <image_filename>{image}</image_filename>
    <imagesize>{size}</imagesize>
  </source>
"""
_TIMES = ("mtime", "atime", "ctime", "crtime")


def _text(value: Any) -> str:
    # XML 1.0 cannot carry most control characters, even escaped; names from evidence may hold them.
    cleaned = "".join(c if c in "\t\n" or ord(c) >= 0x20 else f"\\x{ord(c):02x}" for c in str(value))
    return escape(cleaned)


def _fileobject(row: dict[str, Any], hashes: tuple[str, ...]) -> str:
    parts = [
        f"      <filename>{_text(row['path'].lstrip('/'))}</filename>",
        f"      <partition>{row['volume_index']}</partition>",
        f"      <name_type>{_text(row['type'])}</name_type>",
        f"      <filesize>{row['size']}</filesize>",
        f"      <alloc>{0 if row['deleted'] else 1}</alloc>",
        f"      <inode>{row['inode']}</inode>",
    ]
    parts += [f"      <{t}>{_text(row[t])}</{t}>" for t in _TIMES if row.get(t)]
    parts += [f"      <hashdigest type={quoteattr(a)}>{row[a]}</hashdigest>" for a in hashes if row.get(a)]
    if row.get("mime"):
        parts.append(f"      <libmagic>{_text(row['mime'])}</libmagic>")
    return "    <fileobject>\n" + "\n".join(parts) + "\n    </fileobject>\n"


def render(rows: Iterable[dict[str, Any]], image: str, size: int, hashes: tuple[str, ...]) -> Iterator[str]:
    """Streams the DFXML document, grouping consecutive entries of the same volume."""
    yield _HEAD.format(version=__version__, image=_text(image), size=size)
    current: int | None = None
    for row in rows:
        if row["volume_offset"] != current:
            if current is not None:
                yield "  </volume>\n"
            current = row["volume_offset"]
            yield (f"  <volume offset='{current}'>\n    <partition_offset>{current}</partition_offset>\n"
                   f"    <ftype_str>{_text(row['fs_type'])}</ftype_str>\n")
        yield _fileobject(row, hashes)
    if current is not None:
        yield "  </volume>\n"
    yield "</dfxml>\n"
