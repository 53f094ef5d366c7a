"""Output that cannot be written is exit 2 with the reason, from every command (issue 15).

``vmo review`` says so itself (tests/test_batch_atomic.py: a full tmpfs, a read-only remount). The other
commands write through :func:`vmo_lib.files.atomic_write_bytes`; a refusal of the file system there was
"vmo: internal error: PermissionError: ... '/out/.t.xlsx.a7zwepxz.tmp'" with exit 3. The refusal is
simulated where the writer creates its temp file, as the kernel reports it (errno, message, path).
"""

from __future__ import annotations

import errno
import os

import pytest

from vmo_lib import cli, files


@pytest.mark.parametrize("code", [errno.EACCES, errno.EROFS, errno.ENOSPC])
def test_an_output_the_file_system_refuses_is_exit_2_naming_the_file_and_the_reason(tmp_path, monkeypatch, capsys,
                                                                                     code):
    def refused(prefix="", suffix="", dir=None):  # noqa: A002 - tempfile's own keyword
        raise OSError(code, os.strerror(code), os.path.join(dir, f"{prefix}k3j2h1g0{suffix}"))

    monkeypatch.setattr(files.tempfile, "mkstemp", refused)
    target = tmp_path / "t.xlsx"
    assert cli.main(["template", str(target)]) == 2
    err = capsys.readouterr().err
    assert err == f"vmo: {target}: {os.strerror(code)}\n"  # the file asked for, not the writer's temp file
    assert not target.exists()


def test_another_os_error_is_still_an_internal_error(tmp_path, monkeypatch, capsys):
    def broken(prefix="", suffix="", dir=None):  # noqa: A002
        raise OSError(errno.EIO, os.strerror(errno.EIO), os.path.join(dir, "x"))

    monkeypatch.setattr(files.tempfile, "mkstemp", broken)
    assert cli.main(["template", str(tmp_path / "t.xlsx")]) == 3
    assert capsys.readouterr().err.startswith("vmo: internal error: OSError: [Errno 5]")
