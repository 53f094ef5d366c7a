"""Hostile and broken files must each end in one clear WorkbookError, in bounded memory.

Every hostile file is generated here in ``tmp_path``; the zip bomb is assembled from identical
deflate blocks (a full flush resets the compressor, so one block can be repeated), which keeps the
test file a couple of MB and the test fast while it declares gigabytes.
"""

from __future__ import annotations

import io
import os
import random
import re
import struct
import sys
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import openpyxl
import pytest

from vmo_lib.errors import WorkbookError
from vmo_lib.intake import safety
from vmo_lib.intake.safety import check_workbook_file

MB = 1024 * 1024
PEAK_MEMORY_LIMIT = 50 * MB
XML_DECL = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


# --- builders -----------------------------------------------------------------------------------
def genuine_xlsx_bytes() -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Case"
    ws["A4"], ws["B4"] = "Case id", "ERP-01"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def xlsx_parts() -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(genuine_xlsx_bytes())) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def write_zip(path: Path, parts: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return path


def repeated_deflate(prefix: bytes, block: bytes, repeats: int, suffix: bytes) -> tuple[bytes, int, int]:
    """Raw deflate of ``prefix + block * repeats + suffix`` without compressing ``repeats`` blocks.

    After ``Z_FULL_FLUSH`` the compressor forgets its history, so the compressed form of ``block``
    is the same every time and can be repeated. Returns (compressed, crc32, uncompressed size).
    """
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH)
    body = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)
    tail = c.compress(suffix) + c.flush(zlib.Z_FINISH)
    crc = zlib.crc32(prefix)
    for _ in range(repeats):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(suffix, crc)
    return head + body * repeats + tail, crc, len(prefix) + len(block) * repeats + len(suffix)


def write_raw_zip(path: Path, entries: list[tuple[str, bytes, int, int]]) -> Path:
    """A zip of already-deflated parts: (name, raw deflate bytes, crc32, uncompressed size).

    Sizes must stay below 4 GiB (no zip64), which is plenty to declare a bomb.
    """
    central = b""
    with open(path, "wb") as fh:
        for name, data, crc, size in entries:
            offset = fh.tell()
            n = name.encode()
            fh.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(data), size, len(n), 0) + n)
            fh.write(data)
            central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, crc, len(data), size,
                                   len(n), 0, 0, 0, 0, 0, offset) + n
        cd_offset = fh.tell()
        fh.write(central)
        fh.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central), cd_offset, 0))
    return path


def deflated(name: str, data: bytes) -> tuple[str, bytes, int, int]:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return name, c.compress(data) + c.flush(), zlib.crc32(data), len(data)


def write_sheet_bomb(path: Path, sheet_megabytes: int) -> Path:
    """A real workbook whose first sheet is valid XML padded with ``sheet_megabytes`` MB of blanks."""
    parts = xlsx_parts()
    sheet = parts.pop("xl/worksheets/sheet1.xml")
    cut = sheet.index(b"<sheetData")
    bomb = repeated_deflate(sheet[:cut], b" " * MB, sheet_megabytes, sheet[cut:])
    entries = [deflated(n, d) for n, d in parts.items()]
    entries.append(("xl/worksheets/sheet1.xml", *bomb))
    return write_raw_zip(path, entries)


def ole2_file(path: Path, stream_names: list[str], junk_before: bytes = b"") -> Path:
    """A minimal OLE2 compound file whose directory lists ``stream_names`` after the root entry.

    Only the parts the check reads are real: the signature and the 128-byte directory entries
    (UTF-16LE name, byte length at offset 64, object type at 66), 128-aligned after the header.
    """
    header = bytes.fromhex("D0CF11E0A1B11AE1") + b"\x00" * 16 + struct.pack("<HHH", 0x3E, 3, 0xFFFE)
    header = header.ljust(512, b"\x00")
    entries = b""
    for i, name in enumerate(["Root Entry", *stream_names]):
        enc = name.encode("utf-16-le") + b"\x00\x00"
        entry = enc.ljust(64, b"\x00") + struct.pack("<HB", len(enc), 5 if i == 0 else 2)
        entries += entry.ljust(128, b"\x00")
    data_sector = junk_before.ljust(512, b"\x00")
    path.write_bytes(header + data_sector + entries.ljust(512, b"\x00"))
    return path


def entity_bomb_xml(original: bytes) -> bytes:
    """``original`` with a billion-laughs DTD after its XML declaration and one reference in it."""
    dtd = [b'<!DOCTYPE worksheet [', b'<!ENTITY lol "lol">']
    for i in range(1, 10):
        prev = b"&lol;" if i == 1 else b"&lol%d;" % (i - 1)
        dtd.append(b'<!ENTITY lol%d "%s">' % (i, prev * 10))
    dtd.append(b"]>")
    if not original.startswith(b"<?xml"):
        original = XML_DECL + original
    decl_end = original.index(b"?>") + 2
    body = original[decl_end:].replace(b"<sheetData", b"<!-- &lol9; --><sheetData", 1)
    return original[:decl_end] + b"\n" + b"\n".join(dtd) + body


# --- the check ------------------------------------------------------------------------------------
def refused(path: Path) -> WorkbookError:
    """Run the check under tracemalloc; it must raise WorkbookError within the memory bound."""
    tracemalloc.start()
    try:
        with pytest.raises(WorkbookError) as info:
            check_workbook_file(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < PEAK_MEMORY_LIMIT, f"peak {peak / MB:.1f} MB"
    err = info.value
    assert err.path == str(path)
    assert not re.search(r"[.!?] [A-Z]", err.reason), "one sentence"
    assert str(err) == f"{path}: {err.reason}"
    return err


def test_genuine_workbook_passes_without_warnings(tmp_path):
    p = tmp_path / "case.xlsx"
    p.write_bytes(genuine_xlsx_bytes())
    assert check_workbook_file(p) == []
    assert check_workbook_file(str(p)) == []


def test_missing_path(tmp_path):
    err = refused(tmp_path / "nowhere" / "case.xlsx")
    assert "no such file" in err.reason


def test_folder(tmp_path):
    err = refused(tmp_path)
    assert "is a folder, not a file" in err.reason


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_named_pipe_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "case.xlsx"
    os.mkfifo(fifo)
    err = refused(fifo)
    assert "not a regular file" in err.reason


def test_empty_file(tmp_path):
    p = tmp_path / "case.xlsx"
    p.write_bytes(b"")
    assert "empty (0 bytes)" in refused(p).reason


def test_csv_renamed_xlsx(tmp_path):
    p = tmp_path / "case.xlsx"
    p.write_text("case_id,title,sponsor\nERP-01,ERP replacement,CFO\n", encoding="utf-8")
    reason = refused(p).reason
    assert "plain-text file (it looks like CSV)" in reason
    assert "save it as an Excel Workbook (.xlsx)" in reason


def test_plain_text_renamed_xlsx(tmp_path):
    p = tmp_path / "case.xlsx"
    p.write_text("Business case for the new CRM — see attached slides.\n", encoding="utf-8")
    reason = refused(p).reason
    assert reason.startswith("this is a plain-text file, not an Excel workbook")


def test_html_saved_as_xls(tmp_path):
    p = tmp_path / "case.xls"
    p.write_text("<html><body><table><tr><td>1</td></tr></table></body></html>")
    assert "HTML or XML text file" in refused(p).reason


def test_random_bytes(tmp_path):
    p = tmp_path / "case.xlsx"
    data = random.Random(0).randbytes(4096)
    assert not data.startswith((b"PK", bytes.fromhex("D0CF11E0")))
    p.write_bytes(data)
    assert "neither a .xlsx (zip) archive nor any known office format" in refused(p).reason


@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_truncated_workbook(tmp_path, keep):
    good = genuine_xlsx_bytes()
    p = tmp_path / "case.xlsx"
    p.write_bytes(good[: int(len(good) * keep)])
    assert "damaged or truncated zip archive" in refused(p).reason


def test_damaged_part_inside_a_complete_archive(tmp_path):
    entries = [deflated(n, d) for n, d in xlsx_parts().items()]
    name, data, crc, size = entries[-1]
    entries[-1] = (name, bytes(b ^ 0x5A for b in data), crc, size)  # garbage deflate stream
    p = write_raw_zip(tmp_path / "case.xlsx", entries)
    reason = refused(p).reason
    assert f"part {name!r} cannot be decompressed" in reason or "no XML root element" in reason


def test_zip_that_is_not_a_workbook(tmp_path):
    p = write_zip(tmp_path / "case.xlsx", {"readme.txt": b"hello", "data.csv": b"a,b\n1,2\n"})
    reason = refused(p).reason
    assert "zip archive but not an Excel workbook" in reason
    assert "[Content_Types].xml and no xl/workbook.xml" in reason


def test_word_document_renamed_xlsx(tmp_path):
    p = write_zip(tmp_path / "case.xlsx", {"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})
    assert "this is a Word document" in refused(p).reason


def test_empty_zip(tmp_path):
    p = tmp_path / "case.xlsx"
    with zipfile.ZipFile(p, "w"):
        pass
    assert "empty zip archive" in refused(p).reason


def test_encrypted_workbook_crafted_ole2(tmp_path):
    p = ole2_file(tmp_path / "case.xlsx", ["EncryptionInfo", "EncryptedPackage", "\x06DataSpaces"])
    reason = refused(p).reason
    assert "password-protected (encrypted) Excel workbook" in reason
    assert "legacy" not in reason


def test_encrypted_workbook_made_by_msoffcrypto(tmp_path):
    ooxml = pytest.importorskip("msoffcrypto.format.ooxml")
    plain = tmp_path / "plain.xlsx"
    plain.write_bytes(genuine_xlsx_bytes())
    p = tmp_path / "case.xlsx"
    with open(plain, "rb") as src, open(p, "wb") as dst:
        ooxml.OOXMLFile(src).encrypt("Passw0rd", dst)
    assert p.read_bytes()[:8] == bytes.fromhex("D0CF11E0A1B11AE1")
    assert "password-protected (encrypted)" in refused(p).reason


def test_legacy_xls(tmp_path):
    p = ole2_file(tmp_path / "case.xls", ["Workbook", "\x05SummaryInformation"])
    reason = refused(p).reason
    assert "legacy Excel 97-2003 workbook (.xls)" in reason
    assert "save it as an Excel Workbook (.xlsx)" in reason


def test_excel5_book_stream_is_legacy_xls(tmp_path):
    p = ole2_file(tmp_path / "case.xls", ["Book"])
    assert "legacy Excel 97-2003" in refused(p).reason


def test_ole2_name_inside_stream_data_is_not_taken_for_a_directory_entry(tmp_path):
    # "EncryptionInfo" appears in the data sector at an unaligned offset: not a directory entry.
    junk = b"\x01\x02\x03" + "EncryptionInfo".encode("utf-16-le") + b"\x00\x00"
    p = ole2_file(tmp_path / "case.doc", ["WordDocument"], junk_before=junk)
    assert "OLE2 compound document" in refused(p).reason


def test_xlsm_is_accepted_with_a_macro_warning_and_values_stay_readable(tmp_path):
    parts = xlsx_parts()
    ct = parts["[Content_Types].xml"].decode()
    ct = ct.replace("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                    "application/vnd.ms-excel.sheet.macroEnabled.main+xml")
    ct = ct.replace("<Default ", '<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/><Default ', 1)
    assert "macroEnabled" in ct
    parts["[Content_Types].xml"] = ct.encode()
    parts["xl/vbaProject.bin"] = bytes.fromhex("D0CF11E0A1B11AE1") + b"Attribute VB_Name = \"Module1\"\x00" * 20
    p = write_zip(tmp_path / "case.xlsm", parts)
    warnings = check_workbook_file(p)
    assert warnings == ["contains VBA macros (xl/vbaProject.bin); they were not run and are ignored"]
    assert openpyxl.load_workbook(p, read_only=True)["Case"]["B4"].value == "ERP-01"


def test_macro_content_type_without_vba_part_still_warns(tmp_path):
    parts = xlsx_parts()
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
        b"spreadsheetml.sheet.main+xml", b"ms-excel.sheet.macroEnabled.main+xml")
    p = write_zip(tmp_path / "case.xlsx", parts)
    assert check_workbook_file(p) == [
        "contains VBA macros (a macro-enabled content type); they were not run and are ignored"]


def test_external_links_and_odd_extension_are_warnings(tmp_path):
    parts = xlsx_parts()
    parts["xl/externalLinks/externalLink1.xml"] = b'<?xml version="1.0"?><externalLink/>'
    p = write_zip(tmp_path / "case.zip", parts)
    warnings = check_workbook_file(p)
    assert len(warnings) == 2
    assert warnings[0].startswith("links to 1 external workbook(s)")
    assert warnings[1].startswith("the file name ends in .zip")


@pytest.mark.parametrize("part", ["xl/worksheets/sheet1.xml", "[Content_Types].xml", "xl/workbook.xml"])
def test_xml_entity_bomb_is_refused(tmp_path, part):
    parts = xlsx_parts()
    parts[part] = entity_bomb_xml(parts[part])
    assert b"<!ENTITY lol9" in parts[part]
    p = write_zip(tmp_path / "case.xlsx", parts)
    reason = refused(p).reason
    assert f"part {part!r} contains an XML document type declaration" in reason
    assert "entity bomb" in reason


def test_entity_bomb_in_utf16_part_cannot_hide(tmp_path):
    parts = xlsx_parts()
    xml = entity_bomb_xml(parts["xl/worksheets/sheet1.xml"]).decode().replace('encoding="UTF-8"', 'encoding="UTF-16"')
    parts["xl/worksheets/sheet1.xml"] = "\ufeff".encode("utf-16-le") + xml.encode("utf-16-le")
    p = write_zip(tmp_path / "case.xlsx", parts)
    assert "XML document type declaration" in refused(p).reason


def test_dtd_hidden_behind_a_long_prolog_is_refused(tmp_path):
    parts = xlsx_parts()
    bomb = entity_bomb_xml(parts["xl/worksheets/sheet1.xml"])
    cut = bomb.index(b"?>") + 2
    parts["xl/worksheets/sheet1.xml"] = bomb[:cut] + b" " * (safety.XML_PROLOG_BYTES + 10) + bomb[cut:]
    p = write_zip(tmp_path / "case.xlsx", parts)
    assert "no XML root element in its first 64.0 KB" in refused(p).reason


def test_bomb_builder_makes_a_valid_archive(tmp_path):
    # The zip-bomb construction is sound: a small one inflates correctly (CRC checked by zipfile).
    p = write_sheet_bomb(tmp_path / "small.xlsx", sheet_megabytes=3)
    with zipfile.ZipFile(p) as zf:
        sheet = zf.read("xl/worksheets/sheet1.xml")
        assert zf.testzip() is None
    assert len(sheet) > 3 * MB and sheet.rstrip().endswith(b"</worksheet>")
    assert openpyxl.load_workbook(p, read_only=True)["Case"]["B4"].value == "ERP-01"
    assert check_workbook_file(p) == []  # 3 MB at ~1000:1 is below RATIO_MIN_BYTES


@pytest.fixture(scope="module")
def zip_bomb(tmp_path_factory) -> Path:
    """A workbook of ~2 MB whose sheet declares (and really inflates to) 2 GB."""
    return write_sheet_bomb(tmp_path_factory.mktemp("bomb") / "case.xlsx", sheet_megabytes=2048)


def test_zip_bomb_declaring_gigabytes_is_refused_unread(zip_bomb):
    assert zip_bomb.stat().st_size < 4 * MB
    reason = refused(zip_bomb).reason
    assert "declares 2.0 GB of content packed into 2.0 MB" in reason
    assert "possible zip bomb" in reason


def test_single_part_with_extreme_ratio_is_refused(tmp_path):
    p = write_sheet_bomb(tmp_path / "case.xlsx", sheet_megabytes=50)
    reason = refused(p).reason
    assert "part 'xl/worksheets/sheet1.xml' declares 50.0 MB packed into" in reason
    assert "above the 200:1 limit" in reason


def test_too_many_parts(tmp_path):
    parts = xlsx_parts()
    entries = [deflated(n, d) for n, d in parts.items()]
    entries += [(f"xl/media/pad{i}.bin", b"", 0, 0) for i in range(safety.MAX_ENTRIES + 1)]
    p = write_raw_zip(tmp_path / "case.xlsx", entries)
    reason = refused(p).reason
    assert f"declares {len(entries):,} parts, more than the 10,000" in reason


def test_duplicate_part_names(tmp_path):
    entries = [deflated(n, d) for n, d in xlsx_parts().items()]
    entries.append(deflated("xl/workbook.xml", b'<?xml version="1.0"?><workbook/>'))
    p = write_raw_zip(tmp_path / "case.xlsx", entries)
    assert "two parts named 'xl/workbook.xml'" in refused(p).reason


def test_file_larger_than_the_limit(tmp_path):
    p = tmp_path / "case.xlsx"
    with open(p, "wb") as fh:
        fh.write(b"PK\x03\x04")
        fh.truncate(safety.MAX_FILE_BYTES + 1)  # sparse: costs no disk
    assert "larger than the 100.0 MB" in refused(p).reason


def test_every_refusal_names_what_was_expected(tmp_path):
    # One representative per family: the reason always says what was expected.
    cases = {
        "empty.xlsx": b"",
        "text.xlsx": b"just some text\n",
        "random.xlsx": random.Random(1).randbytes(512),
    }
    for name, data in cases.items():
        p = tmp_path / name
        p.write_bytes(data)
        reason = refused(p).reason
        assert "expected" in reason or "save it as" in reason, reason


@pytest.mark.skipif(sys.platform == "win32", reason="permission bits")
def test_unreadable_file(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root can read any file")
    p = tmp_path / "case.xlsx"
    p.write_bytes(genuine_xlsx_bytes())
    p.chmod(0)
    assert "not readable" in refused(p).reason


# --- through the CLI: `vmo validate` exits 2 with the one-sentence reason, never a traceback ---------------
SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def _validate_command_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("vmo_lib.commands.validate") is not None


needs_validate = pytest.mark.skipif(not _validate_command_available(), reason="`vmo validate` not built yet")


def _hostile_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """name -> (file, words its reason must contain)."""
    files: dict[str, tuple[Path, str]] = {}

    def put(name: str, data: bytes, words: str) -> None:
        p = tmp_path / name
        p.write_bytes(data)
        files[name] = (p, words)

    put("empty.xlsx", b"", "empty (0 bytes)")
    put("csv.xlsx", b"case_id,title\nERP-01,ERP\n", "plain-text file (it looks like CSV)")
    put("random.xlsx", random.Random(0).randbytes(4096), "neither a .xlsx (zip) archive")
    put("truncated.xlsx", genuine_xlsx_bytes()[:3000], "damaged or truncated zip archive")
    files["notbook.xlsx"] = (write_zip(tmp_path / "notbook.xlsx", {"readme.txt": b"hi"}),
                             "zip archive but not an Excel workbook")
    files["encrypted.xlsx"] = (ole2_file(tmp_path / "encrypted.xlsx", ["EncryptionInfo", "EncryptedPackage"]),
                               "password-protected (encrypted)")
    files["legacy.xls"] = (ole2_file(tmp_path / "legacy.xls", ["Workbook"]), "legacy Excel 97-2003 workbook (.xls)")
    parts = xlsx_parts()
    parts["xl/worksheets/sheet1.xml"] = entity_bomb_xml(parts["xl/worksheets/sheet1.xml"])
    files["entities.xlsx"] = (write_zip(tmp_path / "entities.xlsx", parts), "XML document type declaration")
    files["ratio.xlsx"] = (write_sheet_bomb(tmp_path / "ratio.xlsx", 50), "above the 200:1 limit")
    files["missing.xlsx"] = (tmp_path / "missing.xlsx", "no such file")
    return files


@needs_validate
def test_vmo_validate_exits_2_with_one_clear_message_for_each_hostile_file(tmp_path, capsys):
    from vmo_lib.cli import EXIT_UNREADABLE, main

    for name, (path, words) in _hostile_files(tmp_path).items():
        code = main(["validate", str(path)])
        out, err = capsys.readouterr()
        assert code == EXIT_UNREADABLE, (name, out, err)
        assert words in out + err, (name, out, err)
        assert "Traceback" not in out + err


@needs_validate
def test_vmo_validate_zip_bomb_and_json(zip_bomb, capsys):
    import json

    from vmo_lib.cli import EXIT_UNREADABLE, main

    assert main(["validate", str(zip_bomb), "--json"]) == EXIT_UNREADABLE
    out, _ = capsys.readouterr()
    text = json.dumps(json.loads(out))
    assert "possible zip bomb" in text and "unreadable" in text


@needs_validate
def test_vmo_validate_accepts_an_xlsm_sample_with_the_macro_warning(tmp_path, capsys):
    from vmo_lib.cli import EXIT_OK, main

    src = SAMPLE / "RPA-2025.xlsx"
    if not src.exists():
        pytest.skip("sample portfolio not generated")
    dst = tmp_path / "RPA-2025.xlsm"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for name in zin.namelist():
            data = zin.read(name)
            if name == "[Content_Types].xml":
                data = data.replace(b"spreadsheetml.sheet.main+xml", b"ms-excel.sheet.macroEnabled.main+xml")
            zout.writestr(name, data)
        zout.writestr("xl/vbaProject.bin", bytes.fromhex("D0CF11E0A1B11AE1") + b"\x00" * 504)
    assert main(["validate", str(dst)]) == EXIT_OK
    out, err = capsys.readouterr()
    assert "contains VBA macros (xl/vbaProject.bin); they were not run and are ignored" in out + err


@needs_validate
def test_vmo_validate_passes_the_sample_portfolio(capsys):
    from vmo_lib.cli import EXIT_OK, main

    if not any(SAMPLE.glob("*.xlsx")):
        pytest.skip("sample portfolio not generated")
    assert main(["validate", str(SAMPLE)]) == EXIT_OK
    capsys.readouterr()


_INVISIBLE_OUT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


def test_bidi_overrides_and_controls_never_reach_the_output(workbook_factory, tmp_path, capsys):
    """A right-to-left override in a cell (and in the file name) is removed on reading and never printed."""
    from vmo_lib import load_case
    from vmo_lib.cli import main

    def edit(wb):
        wb["Costs"]["B5"] = "Licences\u202egnp.exe"            # C1's name
        wb["Costs"]["C5"] = "cap\u2066ex\u2069x"                # category: cleaned, then still not a choice
        wb["Case"]["B5"] = "CRM\u200f replacement\u202c"        # title
    path = workbook_factory(name="case\u202exslx.xlsx", edit=edit)
    for args in ([str(path), "--as-of", "2026Q3"], [str(path), "--as-of", "2026Q3", "--json"]):
        assert main(["validate", *args]) == 1
        out, err = capsys.readouterr()
        assert not _INVISIBLE_OUT.search(out.replace("\n", "") + err.replace("\n", "")), repr(out)
    assert main(["validate", str(path), "--as-of", "2026Q3"]) == 1
    out = capsys.readouterr().out
    assert "text.invisible_characters" in out and "'capexx' is not one of" in out
    fixed = workbook_factory(name="fixed.xlsx", edit=lambda wb: (edit(wb), wb["Costs"].__setitem__("C5", "capex")))
    case = load_case(fixed, as_of="2026Q3")
    assert case.meta["title"] == "CRM replacement"
    assert case.lines.set_index("line_id").loc["C1", "name"] == "Licencesgnp.exe"
    assert set(case.issues["rule"]) == {"text.invisible_characters"}
