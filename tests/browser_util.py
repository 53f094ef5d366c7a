"""Helpers for the browser test: a JupyterLab server on loopback and Debian's headless Chromium.

Nothing here downloads a browser: Playwright drives ``/usr/bin/chromium`` (installed by
``make browser``) through ``executable_path``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

CHROMIUM = Path(os.environ.get("VMO_CHROMIUM", "/usr/bin/chromium"))
#: Flags for Chromium on a closed network as root (see the machine notes): no sandbox (root), no
#: GPU, and none of the background connections that the network would refuse.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LabServer:
    """A running JupyterLab: its base URL, token, root folder and process."""

    url: str
    token: str
    root: Path
    process: subprocess.Popen
    log: Path

    def lab_url(self, path: str) -> str:
        return f"{self.url}/lab/tree/{path}?token={self.token}"


@contextlib.contextmanager
def jupyter_lab(root: Path, log: Path, timeout: float = 120.0) -> Iterator[LabServer]:
    """Start JupyterLab on 127.0.0.1 with a random port and token; always stop it afterwards.

    The server runs with the interpreter of the test (so its kernel imports this checkout's
    vmo_lib), in its own process group so that the kernels it starts are stopped with it.
    """
    token = secrets.token_hex(24)
    for attempt in range(3):  # a port taken between free_port() and bind: try another
        port = free_port()
        env = {**os.environ, "JUPYTER_PLATFORM_DIRS": "1", "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
        # Private config/runtime dirs: no user settings, no announcement or news fetching.
        home = root.parent / f".jupyter-home-{attempt}"
        for sub in ("config", "data", "runtime", "workspaces"):
            (home / sub).mkdir(parents=True, exist_ok=True)
        # No "get notified about Jupyter news?" toast over the page, and no request for news.
        notify = home / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
        notify.parent.mkdir(parents=True, exist_ok=True)
        notify.write_text('{"fetchNews": "false", "checkForUpdates": false}')
        env.update(JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_RUNTIME_DIR=str(home / "runtime"),
                   IPYTHONDIR=str(home / "ipython"), MPLBACKEND="Agg")
        cmd = [
            sys.executable, "-m", "jupyterlab", "--no-browser",
            f"--ServerApp.token={token}", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.root_dir={root}", "--ServerApp.allow_root=True",
            "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            f"--LabApp.user_settings_dir={home / 'settings'}", f"--LabApp.workspaces_dir={home / 'workspaces'}",
        ]
        fh = log.open("ab")
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        try:
            if _wait_until_up(url, token, proc, timeout):
                server = LabServer(url=url, token=token, root=root, process=proc, log=log)
                try:
                    yield server
                finally:
                    _stop(proc)
                    fh.close()
                return
        except BaseException:
            _stop(proc)
            fh.close()
            raise
        _stop(proc)
        fh.close()
    raise RuntimeError(f"JupyterLab did not start; see {log}:\n{log.read_text(errors='replace')[-3000:]}")


def _wait_until_up(url: str, token: str, proc: subprocess.Popen, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5) as resp:
                if resp.status == 200:
                    return True
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    return False


def _stop(proc: subprocess.Popen) -> None:
    """Stop the server and its kernels (its whole process group): SIGTERM, then SIGKILL."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def notebook_from_jupytext(src: Path, dest: Path) -> Path:
    """Write ``dest`` (.ipynb) from a jupytext py:percent file."""
    import jupytext

    nb = jupytext.read(src)
    # A plain notebook, not one paired with the .py (JupyterLab's jupytext extension would refuse
    # to open an .ipynb whose pairing formats do not list ipynb).
    nb.metadata.pop("jupytext", None)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    jupytext.write(nb, dest)
    return dest


def copy_tree(src: Path, dest: Path, patterns: tuple[str, ...] = ("*",)) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for pattern in patterns:
        for p in src.glob(pattern):
            if p.is_file():
                shutil.copy2(p, dest / p.name)
