"""What kind of file an upload really is, from its first bytes, never from its name.

Departments rename files freely (a CSV saved as ``.xlsx``, an ``.xlsx`` renamed ``.xls``, a web page a
system exported "as Excel"), so the extension is ignored. Returned kinds: ``xlsx`` (also xlsm/xltx),
``xlsb``, ``ods``, ``xls`` (BIFF in an OLE2 container), ``geojson`` (a JSON object named ``.geojson`` or
``.json``, or naming a Feature near its start) and ``text``; anything else is refused with a
message saying what the file seems to be.

The one use of the name: text saved as ``.txt`` (or another document-type extension, ``NOT_TABLES``)
is refused as an unsupported format. Such files are notes, logs and fixed-width printouts far more
often than tables, and reading one as a one-column CSV only ends in "cannot tell which dataset this
is"; a table exported as text is uploaded as ``.csv``. Text under any other name (``.csv``, ``.tsv``,
a CSV that a system named ``.xls``) is read as delimited text.
"""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path
from typing import BinaryIO

from entgraph.loaders.readers.base import FileRejected
from entgraph.loaders.readers.geojson import looks_like_geojson

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
SAVE_AS = "open it in Excel or WPS, save it as .xlsx (or as UTF-8 CSV) and upload again"
NOT_TABLES = frozenset({".txt", ".text", ".log", ".md", ".json"})

_OTHER_BINARIES = {
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"Rar!": "a RAR archive",
    b"7z\xbc\xaf": "a 7-Zip archive",
    b"\x1f\x8b": "a gzip archive",
    b"BZh": "a bzip2 archive",
    b"{\\rtf": "an RTF document",
}

_ENDOFCHAIN = 0xFFFFFFFA  # sector ids at or above this end a chain (or mark free / FAT sectors)


def sniff(path: Path, head: bytes) -> str:
    """The kind of file ``path`` is, given its first bytes ``head`` (non-empty)."""
    if head.startswith(ZIP_MAGICS):
        return _zip_kind(path)
    if head.startswith(OLE2_MAGIC):
        return _ole_kind(path)
    for magic, what in _OTHER_BINARIES.items():
        if head.startswith(magic):
            raise FileRejected(f"{path.name} is {what}, not a table; upload the Excel or CSV file instead")
    if looks_like_geojson(path, head):
        return "geojson"
    suffix = path.suffix.lower()
    if suffix in NOT_TABLES:
        raise FileRejected(
            f"{path.name}: unsupported format ({suffix}): save it as .xlsx/.xls/.csv and upload again "
            "(if it holds the table, open it in Excel or WPS and save it as .xlsx or as UTF-8 CSV)"
        )
    return "text"


def _zip_kind(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            mimetype = archive.read("mimetype")[:100] if "mimetype" in names else b""
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise FileRejected(
            f"{path.name} looks like an Excel workbook but is damaged ({exc}); {SAVE_AS}"
        ) from None
    if "xl/workbook.xml" in names:
        return "xlsx"
    if "xl/workbook.bin" in names:
        return "xlsb"
    if b"opendocument.spreadsheet" in mimetype:
        return "ods"
    if "word/document.xml" in names:
        what = "a Word document"
    elif "ppt/presentation.xml" in names:
        what = "a PowerPoint presentation"
    elif mimetype:
        what = f"an OpenDocument file ({mimetype.decode('ascii', 'replace')})"
    else:
        what = "a zip archive"
    raise FileRejected(f"{path.name} is {what}, not a spreadsheet; upload the Excel or CSV file itself")


def _ole_kind(path: Path) -> str:
    try:
        with path.open("rb") as f:
            names = ole_stream_names(f)
    except (ValueError, struct.error, OSError, IndexError) as exc:
        raise FileRejected(
            f"{path.name} looks like an old Excel (.xls) file but is damaged ({exc}); {SAVE_AS}"
        ) from None
    if "EncryptedPackage" in names or "EncryptionInfo" in names:
        raise FileRejected(
            f"{path.name}: the workbook is password-protected; remove the password and upload again"
        )
    if "WordDocument" in names:
        raise FileRejected(f"{path.name} is a Word document, not a spreadsheet; upload the Excel or CSV file")
    if "PowerPoint Document" in names:
        raise FileRejected(
            f"{path.name} is a PowerPoint file, not a spreadsheet; upload the Excel or CSV file"
        )
    return "xls"


def ole_stream_names(f: BinaryIO, max_sectors: int = 100_000) -> set[str]:
    """Names of the entries in an OLE2 (compound file) directory, read without loading the file.

    Follows the directory's sector chain through the FAT (header DIFAT plus any DIFAT sectors).
    """
    header = f.read(512)
    if len(header) < 512 or not header.startswith(OLE2_MAGIC):
        raise ValueError("not an OLE2 compound file")
    (sector_shift,) = struct.unpack_from("<H", header, 0x1E)
    if sector_shift not in (9, 12):
        raise ValueError(f"sector size 2^{sector_shift} is not valid")
    size = 1 << sector_shift
    per_sector = size // 4
    (first_dir,) = struct.unpack_from("<I", header, 0x30)
    first_difat, n_difat = struct.unpack_from("<II", header, 0x44)
    fat_sectors = list(struct.unpack_from("<109I", header, 0x4C))
    sid = first_difat
    for _ in range(min(n_difat, max_sectors)):
        if sid >= _ENDOFCHAIN:
            break
        entries = struct.unpack(f"<{per_sector}I", _sector(f, sid, size))
        fat_sectors.extend(entries[:-1])
        sid = entries[-1]
    fat_sectors = [s for s in fat_sectors if s < _ENDOFCHAIN]

    def next_sector(current: int) -> int:
        fat_sector = fat_sectors[current // per_sector]
        f.seek((fat_sector + 1) * size + (current % per_sector) * 4)
        (value,) = struct.unpack("<I", f.read(4))
        return value

    names: set[str] = set()
    sid = first_dir
    for _ in range(max_sectors):
        if sid >= _ENDOFCHAIN:
            break
        block = _sector(f, sid, size)
        for offset in range(0, size, 128):
            (length,) = struct.unpack_from("<H", block, offset + 64)
            if 2 <= length <= 64:
                names.add(block[offset : offset + length - 2].decode("utf-16-le", "replace"))
        sid = next_sector(sid)
    return names


def _sector(f: BinaryIO, sid: int, size: int) -> bytes:
    f.seek((sid + 1) * size)
    block = f.read(size)
    if len(block) < size:
        raise ValueError(f"sector {sid} lies past the end of the file")
    return block
