"""Gatekeeping for untrusted workbook files, before any parser touches their bytes.

A submitted workbook is untrusted input. :func:`check_workbook_file` looks at a file with cheap,
bounded reads (a few KB at the start and end, the zip's central directory, the first KB of each
XML part) and either returns a list of warnings or raises :class:`~vmo_lib.errors.WorkbookError`
with one sentence saying what the file is and what was expected. Only then may a reader
(python-calamine, openpyxl) open it.

What is refused, and why
------------------------
- a missing path, a folder, anything that is not a regular file (a FIFO or device would block);
- an empty file, or one larger than :data:`MAX_FILE_BYTES`;
- plain text or CSV renamed ``.xlsx``, HTML "spreadsheets", PDFs, random or truncated bytes;
- a zip archive that is not a workbook (no ``[Content_Types].xml`` or no ``xl/workbook.xml``;
  Word, PowerPoint, OpenDocument and binary ``.xlsb`` workbooks are named as such);
- a password-protected (encrypted) workbook: Office stores it as an OLE2 compound file holding an
  ``EncryptionInfo`` stream; a legacy Excel 97-2003 ``.xls`` is an OLE2 file holding a
  ``Workbook`` (or ``Book``) stream. Both get their own message;
- a zip bomb, judged on the *declared* sizes in the central directory before anything is inflated:
  more than :data:`MAX_ENTRIES` parts, a central directory over :data:`MAX_CENTRAL_DIRECTORY_BYTES`,
  more than :data:`MAX_UNCOMPRESSED_BYTES` in total, or a part over :data:`RATIO_MIN_BYTES` that
  expands more than :data:`MAX_COMPRESSION_RATIO` to 1; also encrypted zip entries, unknown
  compression methods and duplicate part names (two readers could see two different files);
- an XML entity bomb: any XML part whose prolog holds a ``<!DOCTYPE`` or ``<!ENTITY``
  declaration. Excel never writes a DTD, so there is no false positive on a genuine workbook. Only
  the prolog is read (at most :data:`XML_PROLOG_BYTES` per part, streamed), never a whole part.

What is accepted with a warning
-------------------------------
- macro-enabled workbooks (``.xlsm``, a ``xl/vbaProject.bin`` part or a macro-enabled content
  type): the workbench only ever reads cell values, so the macros are never run; the warning says
  so. Refusing them would push authors to strip macros by hand for no gain in safety.
- links to external workbooks and embedded objects (their cached values are used; nothing is
  followed or opened);
- a workbook whose file name does not end in ``.xlsx``/``.xlsm``.

Every check runs in well under a second on a 100 MB file and in a few MB of memory.

Examples
--------
>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "notes.xlsx"
>>> _ = p.write_text("case_id,title\\nERP-01,ERP replacement\\n")
>>> try:
...     check_workbook_file(p)
... except WorkbookError as exc:
...     print(exc.reason)
this is a plain-text file (it looks like CSV), not an Excel workbook; open it in Excel and save it as an Excel Workbook (.xlsx)
"""

from __future__ import annotations

import os
import stat
import struct
import zipfile
import zlib
from pathlib import Path

from vmo_lib.errors import WorkbookError

__all__ = [
    "MAX_CENTRAL_DIRECTORY_BYTES",
    "MAX_COMPRESSION_RATIO",
    "MAX_ENTRIES",
    "MAX_FILE_BYTES",
    "MAX_UNCOMPRESSED_BYTES",
    "RATIO_MIN_BYTES",
    "XML_PROLOG_BYTES",
    "check_workbook_file",
]

MB = 1024 * 1024
#: Largest workbook file accepted (bytes). A generous case is a few MB.
MAX_FILE_BYTES = 100 * MB
#: Largest total of the declared uncompressed sizes of all parts (bytes).
MAX_UNCOMPRESSED_BYTES = 200 * MB
#: A part that declares more than :data:`RATIO_MIN_BYTES` uncompressed may expand at most this
#: many times its compressed size (sheet XML normally compresses 5–20:1; zeros 1000:1).
MAX_COMPRESSION_RATIO = 200
#: Parts smaller than this are never refused for their ratio alone (small XML compresses well).
RATIO_MIN_BYTES = 10 * MB
#: Most parts (files inside the zip) accepted; a workbook with 100 sheets has a few hundred.
MAX_ENTRIES = 10_000
#: Largest central directory accepted (bytes), checked before Python builds one object per entry.
MAX_CENTRAL_DIRECTORY_BYTES = 4 * MB
#: At most this much of each XML part is inflated to find its root element; a genuine part
#: reaches it within ~100 bytes.
XML_PROLOG_BYTES = 64 * 1024

_ZIP_MAGIC = b"PK\x03\x04"
_EMPTY_ZIP_MAGIC = b"PK\x05\x06"
_OLE_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")
_EOCD = b"PK\x05\x06"
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64_EOCD = b"PK\x06\x06"
_CHUNK = 1 * MB
_OK_COMPRESSION = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
_WORKBOOK_PART = "xl/workbook.xml"
_CONTENT_TYPES = "[Content_Types].xml"
_SAVE_AS = "open it in Excel and save it as an Excel Workbook (.xlsx)"


def check_workbook_file(path: str | os.PathLike[str]) -> list[str]:
    """Check that a file is safe to hand to a workbook reader, without parsing it.

    Parameters
    ----------
    path : str or path-like
        The file submitted as a business-case workbook.

    Returns
    -------
    list of str
        Warnings about an accepted file (macros present, external links, unusual extension);
        empty for an ordinary ``.xlsx``.

    Raises
    ------
    WorkbookError
        The file is missing, not a workbook, encrypted, a legacy ``.xls``, too large, or a
        zip/XML bomb. ``reason`` is one sentence naming what the file is and what was expected.

    Examples
    --------
    >>> import tempfile, pathlib, zipfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "case.xlsx"
    >>> with zipfile.ZipFile(p, "w") as z:
    ...     z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
    ...     z.writestr("xl/workbook.xml", '<?xml version="1.0"?><workbook/>')
    >>> check_workbook_file(p)
    []
    >>> try:
    ...     check_workbook_file(p.parent / "missing.xlsx")
    ... except WorkbookError as exc:
    ...     print(exc.reason)
    there is no such file; expected the path of an Excel workbook (.xlsx)
    """
    p = Path(path)
    size = _check_regular_file(p)
    with open(p, "rb") as fh:
        head = fh.read(8192)
        if head.startswith(_OLE_MAGIC):
            raise WorkbookError(p, _describe_ole(fh, size))
        if head.startswith(_EMPTY_ZIP_MAGIC):
            raise WorkbookError(p, "this is an empty zip archive, not an Excel workbook; expected a .xlsx file saved from Excel")
        if not head.startswith(_ZIP_MAGIC):
            raise WorkbookError(p, _describe_not_zip(head))
        _check_central_directory_size(p, fh, size)
        try:
            with zipfile.ZipFile(fh) as zf:
                return _check_zip(p, zf)
        except zipfile.BadZipFile as exc:
            raise WorkbookError(
                p, f"this is a damaged or truncated zip archive ({exc}), not a readable workbook; "
                "expected a complete .xlsx file: save it again from Excel") from None


# --- the file itself ---------------------------------------------------------------------------
def _check_regular_file(p: Path) -> int:
    try:
        st = p.stat()
    except FileNotFoundError:
        raise WorkbookError(p, "there is no such file; expected the path of an Excel workbook (.xlsx)") from None
    except OSError as exc:
        raise WorkbookError(p, f"the file cannot be accessed ({exc.strerror or exc}); expected a readable Excel workbook (.xlsx)") from None
    if stat.S_ISDIR(st.st_mode):
        raise WorkbookError(p, "this is a folder, not a file; expected an Excel workbook (.xlsx) (to check a whole folder, pass it to load_portfolio)")
    if not stat.S_ISREG(st.st_mode):
        raise WorkbookError(p, "this is not a regular file (a device, pipe or socket); expected an Excel workbook (.xlsx)")
    if st.st_size == 0:
        raise WorkbookError(p, "the file is empty (0 bytes); expected an Excel workbook (.xlsx) saved from Excel")
    if st.st_size > MAX_FILE_BYTES:
        raise WorkbookError(p, f"the file is {_size(st.st_size)}, larger than the {_size(MAX_FILE_BYTES)} a business-case "
                               "workbook may be; expected a workbook of a few MB (remove pasted data or images)")
    if not os.access(p, os.R_OK):
        raise WorkbookError(p, "the file is not readable (permission denied); expected a readable Excel workbook (.xlsx)")
    return st.st_size


def _describe_not_zip(head: bytes) -> str:
    """One sentence on what a file that is neither zip nor OLE2 seems to be."""
    text_head = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text_head.startswith(b"%pdf"):
        return "this is a PDF document, not an Excel workbook; expected a .xlsx file saved from Excel"
    if text_head.startswith((b"<html", b"<!doctype html", b"<table", b"<?xml")) or b"<html" in text_head[:512]:
        return ("this is an HTML or XML text file (a web page or 'XML Spreadsheet' saved with an Excel name), "
                f"not an Excel workbook; {_SAVE_AS}")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or _is_text(head):
        sample = head.decode("utf-8", errors="replace") if not head.startswith((b"\xff\xfe", b"\xfe\xff")) else ""
        first = sample.splitlines()[0] if sample.strip() else ""
        looks = " (it looks like CSV)" if first.count(",") >= 1 or first.count(";") >= 1 or "\t" in first else ""
        return f"this is a plain-text file{looks}, not an Excel workbook; {_SAVE_AS}"
    return ("this is not an Excel workbook: its bytes are neither a .xlsx (zip) archive nor any known office "
            "format (random, corrupted or another kind of file); expected a .xlsx file saved from Excel")


def _is_text(head: bytes) -> bool:
    try:
        s = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a multi-byte character cut by the 8 KB read
            return False
        s = head[: exc.start].decode("utf-8")
    if not s:
        return False
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in s)
    return printable / len(s) > 0.97


# --- OLE2 compound files: encrypted OOXML, legacy .xls, other -----------------------------------
def _ole_entry_pattern(name: str) -> bytes:
    return name.encode("utf-16-le") + b"\x00\x00"


_OLE_NAMES = {
    "encrypted": [_ole_entry_pattern("EncryptionInfo"), _ole_entry_pattern("EncryptedPackage")],
    "xls": [_ole_entry_pattern("Workbook"), _ole_entry_pattern("Book")],
}


def _ole_streams(fh, size: int) -> set[str]:
    """Which known stream names appear as OLE2 directory entries.

    A directory entry is 128 bytes, 128-aligned in the file, starting with the UTF-16LE name and
    with the name's byte length (terminator included) at offset 64; checking both keeps a match
    inside some stream's data from counting. Streams the file in chunks: bounded memory.
    """
    found: set[str] = set()
    fh.seek(0)
    base, tail = 0, b""
    patterns = [(kind, pat) for kind, pats in _OLE_NAMES.items() for pat in pats]
    while True:
        chunk = fh.read(_CHUNK)
        if not chunk:
            break
        buf = tail + chunk
        buf_start = base - len(tail)
        for kind, pat in patterns:
            i = buf.find(pat)
            while i != -1:
                off = buf_start + i
                if off % 128 == 0 and i + 66 <= len(buf):
                    (n,) = struct.unpack_from("<H", buf, i + 64)
                    if n == len(pat):
                        found.add(kind)
                i = buf.find(pat, i + 2)
        base += len(chunk)
        tail = buf[-128:]
    return found


def _describe_ole(fh, size: int) -> str:
    streams = _ole_streams(fh, size)
    if "encrypted" in streams:
        return ("this is a password-protected (encrypted) Excel workbook, which cannot be read without its password; "
                "remove the password in Excel (File > Info > Protect Workbook > Encrypt with Password, clear it) "
                "and save it as .xlsx")
    if "xls" in streams:
        return f"this is a legacy Excel 97-2003 workbook (.xls), not a .xlsx; {_SAVE_AS}"
    return ("this is an OLE2 compound document (e.g. a .doc, .msg or .xls written by another program) that holds "
            "no Excel workbook; expected a .xlsx file saved from Excel")


# --- zip archives -------------------------------------------------------------------------------
def _check_central_directory_size(p: Path, fh, size: int) -> None:
    """Refuse an archive whose End Of Central Directory declares too many entries or bytes.

    Python's zipfile builds one object per entry, so this runs before ``ZipFile()`` is created.
    A file with no EOCD record is left to ``ZipFile`` to report as truncated.
    """
    tail_len = min(size, 22 + 65535 + 20 + 56)
    fh.seek(size - tail_len)
    tail = fh.read(tail_len)
    i = tail.rfind(_EOCD)
    if i < 0 or i + 22 > len(tail):
        return
    _, _, _, _, entries, cd_size, _, _ = struct.unpack_from("<4sHHHHIIH", tail, i)
    j = i - 20
    if (entries == 0xFFFF or cd_size == 0xFFFFFFFF) and j >= 0 and tail[j:j + 4] == _ZIP64_LOCATOR:
        (rec_off,) = struct.unpack_from("<Q", tail, j + 8)
        if 0 <= rec_off <= size - 56:
            fh.seek(rec_off)
            rec = fh.read(56)
            if rec[:4] == _ZIP64_EOCD:
                entries, cd_size = struct.unpack_from("<QQ", rec, 32)
    if entries > MAX_ENTRIES:
        raise WorkbookError(p, f"the archive declares {entries:,} parts, more than the {MAX_ENTRIES:,} a workbook may have "
                               "(a possible zip bomb); it was refused unread; expected a .xlsx file saved from Excel")
    if cd_size > MAX_CENTRAL_DIRECTORY_BYTES:
        raise WorkbookError(p, f"the archive's directory is {_size(cd_size)}, more than the {_size(MAX_CENTRAL_DIRECTORY_BYTES)} "
                               "a workbook needs (a possible zip bomb); it was refused unread; expected a .xlsx file saved from Excel")


def _check_zip(p: Path, zf: zipfile.ZipFile) -> list[str]:
    infos = zf.infolist()
    names = [i.filename for i in infos]
    name_set = set(names)
    if len(infos) > MAX_ENTRIES:
        raise WorkbookError(p, f"the archive holds {len(infos):,} parts, more than the {MAX_ENTRIES:,} a workbook may have "
                               "(a possible zip bomb); it was refused unread; expected a .xlsx file saved from Excel")
    if len(name_set) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})[0]
        raise WorkbookError(p, f"the archive holds two parts named {dup!r}, which Excel never writes (readers could "
                               "disagree on its content); it was refused; expected a .xlsx file saved from Excel")
    _check_is_workbook(p, name_set)
    _check_declared_sizes(p, infos)
    for info in infos:
        if info.flag_bits & 0x1:
            raise WorkbookError(p, f"part {info.filename!r} is an encrypted zip entry, which a workbook never contains; "
                                   "expected a .xlsx file saved from Excel")
        if info.compress_type not in _OK_COMPRESSION:
            raise WorkbookError(p, f"part {info.filename!r} uses zip compression method {info.compress_type}, which Excel "
                                   "never writes; expected a .xlsx file saved from Excel")
    for info in infos:
        if not info.is_dir():
            _check_xml_prolog(p, zf, info)
    return _warnings(p, zf, name_set)


def _check_is_workbook(p: Path, names: set[str]) -> None:
    lower = {n.lower() for n in names}
    if "mimetype" in lower and any(n.startswith("content.xml") for n in lower):
        raise WorkbookError(p, f"this is an OpenDocument file (LibreOffice/OpenOffice), not an Excel workbook; {_SAVE_AS}")
    if "word/document.xml" in lower:
        raise WorkbookError(p, "this is a Word document, not an Excel workbook; expected a .xlsx file saved from Excel")
    if "ppt/presentation.xml" in lower:
        raise WorkbookError(p, "this is a PowerPoint presentation, not an Excel workbook; expected a .xlsx file saved from Excel")
    if "xl/workbook.bin" in lower:
        raise WorkbookError(p, f"this is a binary Excel workbook (.xlsb), which the workbench does not read; {_SAVE_AS}")
    missing = [n for n in (_CONTENT_TYPES, _WORKBOOK_PART) if n not in names]
    if missing:
        raise WorkbookError(p, f"this is a zip archive but not an Excel workbook (it has no {' and no '.join(missing)}); "
                               "expected a .xlsx file saved from Excel")


def _check_declared_sizes(p: Path, infos: list[zipfile.ZipInfo]) -> None:
    total = sum(i.file_size for i in infos)
    packed = sum(i.compress_size for i in infos)
    if total > MAX_UNCOMPRESSED_BYTES:
        raise WorkbookError(p, f"the archive declares {_size(total)} of content packed into {_size(packed)}, more than the "
                               f"{_size(MAX_UNCOMPRESSED_BYTES)} a workbook may expand to (a possible zip bomb); it was refused "
                               "unread; expected a workbook of a few MB")
    for i in infos:
        if i.file_size > RATIO_MIN_BYTES and i.file_size > MAX_COMPRESSION_RATIO * max(i.compress_size, 1):
            ratio = i.file_size / max(i.compress_size, 1)
            raise WorkbookError(p, f"part {i.filename!r} declares {_size(i.file_size)} packed into {_size(i.compress_size)} "
                                   f"({ratio:,.0f}:1, above the {MAX_COMPRESSION_RATIO}:1 limit; a possible zip bomb); it was "
                                   "refused unread; expected a .xlsx file saved from Excel")


def _check_xml_prolog(p: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    """Refuse a DTD in an XML part; read (inflate) at most :data:`XML_PROLOG_BYTES` of it."""
    try:
        with zf.open(info) as stream:
            data = stream.read(4096)
            if not _looks_like_xml(data):
                return  # a binary part (image, vbaProject.bin): no parser expands entities in it
            while True:
                verdict = _prolog_verdict(data)
                if verdict == "dtd":
                    raise WorkbookError(
                        p, f"part {info.filename!r} contains an XML document type declaration (<!DOCTYPE/<!ENTITY), which "
                           "Excel never writes (a possible XML entity bomb); it was refused unread; expected a .xlsx "
                           "file saved from Excel")
                if verdict == "root" or len(data) >= min(info.file_size, XML_PROLOG_BYTES):
                    break
                more = stream.read(min(4096, XML_PROLOG_BYTES - len(data)))
                if not more:
                    break
                data += more
    except WorkbookError:
        raise
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, RuntimeError, NotImplementedError, ValueError) as exc:
        raise WorkbookError(p, f"part {info.filename!r} cannot be decompressed ({exc}); the file is damaged or truncated; "
                               "expected a complete .xlsx file: save it again from Excel") from None
    if _prolog_verdict(data) != "root" and info.file_size > len(data):
        raise WorkbookError(p, f"part {info.filename!r} has no XML root element in its first {_size(XML_PROLOG_BYTES)}, "
                               "which Excel never writes; it was refused unread; expected a .xlsx file saved from Excel")


def _decode_xml_head(data: bytes) -> bytes:
    """The prolog as ASCII-compatible bytes (UTF-16 parts are transcoded so a DTD cannot hide)."""
    if data.startswith((b"\xff\xfe", b"<\x00")):
        return data.decode("utf-16-le", errors="ignore").encode("utf-8", errors="ignore")
    if data.startswith((b"\xfe\xff", b"\x00<")):
        return data.decode("utf-16-be", errors="ignore").encode("utf-8", errors="ignore")
    return data


def _looks_like_xml(data: bytes) -> bool:
    head = _decode_xml_head(data).lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"<")


def _prolog_verdict(data: bytes) -> str:
    """``"dtd"`` if a DOCTYPE/ENTITY appears before the root element, ``"root"`` once the root
    element starts cleanly, ``"more"`` if the data ends inside the prolog."""
    text = _decode_xml_head(data)
    i = 0
    while True:
        i = text.find(b"<", i)
        if i < 0 or i + 1 >= len(text):
            return "more"
        nxt = text[i + 1:i + 2]
        if nxt == b"?":  # XML declaration / processing instruction
            end = text.find(b"?>", i)
            if end < 0:
                return "more"
            i = end + 2
        elif nxt == b"!":
            word = text[i:i + 9].upper()
            if word.startswith((b"<!DOCTYPE", b"<!ENTITY")):
                return "dtd"
            if text[i:i + 4] == b"<!--":
                end = text.find(b"-->", i)
                if end < 0:
                    return "more"
                i = end + 3
            elif len(text) - i < 9:
                return "more"
            else:
                return "dtd"  # any other markup declaration before the root
        else:
            return "root"


def _warnings(p: Path, zf: zipfile.ZipFile, names: set[str]) -> list[str]:
    warnings: list[str] = []
    macros = sorted(n for n in names if n.lower().endswith("vbaproject.bin"))
    if not macros and "macroenabled" in _read_small(zf, _CONTENT_TYPES).lower():
        macros = ["a macro-enabled content type"]
    if macros or p.suffix.lower() in (".xlsm", ".xltm"):
        where = ", ".join(macros) if macros else "a .xlsm file"
        warnings.append(f"contains VBA macros ({where}); they were not run and are ignored")
    links = sorted(n for n in names if n.lower().startswith("xl/externallinks/") and n.lower().endswith(".xml"))
    if links:
        warnings.append(f"links to {len(links)} external workbook(s) (xl/externalLinks/); the values cached in this "
                        "file were used and the links were not followed")
    embedded = sorted(n for n in names if n.lower().startswith(("xl/embeddings/", "xl/activex/")))
    if embedded:
        warnings.append(f"contains {len(embedded)} embedded object(s) or ActiveX control(s); they were not opened")
    if p.suffix.lower() not in (".xlsx", ".xlsm", ".xltx", ".xltm"):
        warnings.append(f"the file name ends in {p.suffix or 'no extension'!s} but it is an Excel workbook (.xlsx); "
                        "rename it to .xlsx")
    return warnings


def _read_small(zf: zipfile.ZipFile, name: str, limit: int = 1 * MB) -> str:
    """At most ``limit`` bytes of a part as text (bounded: never a whole large part)."""
    try:
        with zf.open(name) as stream:
            return stream.read(limit).decode("utf-8", errors="replace")
    except KeyError:
        return ""


def _size(n: int) -> str:
    for unit, div in (("GB", 1024 ** 3), ("MB", MB), ("KB", 1024)):
        if n >= div:
            return f"{n / div:,.1f} {unit}"
    return f"{n} bytes"
