"""Helpers for the browser test: a JupyterLab server on loopback and Debian's headless Chromium.

Nothing here downloads a browser: Playwright drives ``/usr/bin/chromium`` (installed by
``make browser``) through ``executable_path``.

Nothing here depends on this machine's Jupyter state either. The server runs with private
config, data, runtime, settings and workspace folders in a fresh temporary folder, its own
``python3`` kernel spec (this interpreter, so the kernel imports this checkout's vmo_lib), and
settings that keep every JupyterLab dialog and prompt out of the way of a scripted session:

* no news or update check (``@jupyterlab/apputils-extension:notification``);
* no autosave (``@jupyterlab/docmanager-extension:plugin``): nothing writes the notebook while the
  test drives it, so no "File Changed" or save-error dialog;
* no shared notebook-trust database (``NotebookNotary.db_file=:memory:``);
* kernels over ZMQ's IPC transport with absolute socket paths in the private runtime folder: no TCP
  port to lose to another process between picking and binding it (a kernel that cannot bind dies,
  and JupyterLab then shows its "Kernel Restarting" dialog);
* the notebook's kernel is started through the REST API, and waited for, BEFORE the page opens
  (:meth:`LabServer.start_kernel`): JupyterLab reuses the running session of a path, so the page
  never has to choose or start a kernel. The test then waits until the page's notebook is on that
  kernel, connected and idle, before it runs anything.

The flaky failure this replaces: cells run while the page was still setting up its session (it
applies the notebook's kernel preference only after listing the file's checkpoints, seconds on a
loaded machine) see "No Kernel", try to start one without a preferred name and ask with JupyterLab's
"Select Kernel" dialog, which then covered the Run menu. Reproduced on demand by delaying the
server's checkpoint listing by 8 s.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
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

#: JupyterLab settings of the test server (plugin id -> settings).
LAB_SETTINGS: dict[str, dict[str, object]] = {
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/docmanager-extension:plugin": {"autosave": False},
}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LabServer:
    """A running JupyterLab: its base URL, token, root folder, private state folder and process."""

    url: str
    token: str
    root: Path
    process: subprocess.Popen
    log: Path
    home: Path

    def lab_url(self, path: str) -> str:
        return f"{self.url}/lab/tree/{path}?token={self.token}"

    def api(self, method: str, path: str, body: dict | None = None, timeout: float = 60.0) -> dict:
        """Call the server's REST API (JSON in and out)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.url}{path}", data=data, method=method, headers={
            "Authorization": f"token {self.token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read() or b"{}")

    def start_kernel(self, notebook: str, timeout: float = 300.0, attempts: int = 3) -> str:
        """Start the ``python3`` kernel of ``notebook`` (a path under the root) as a session and
        wait until it answers; returns the kernel id.

        A page that then opens the notebook connects to this kernel instead of starting one.

        Whether the kernel is alive is asked of the server, which owns its process — not inferred
        from heartbeats: ``jupyter_client``'s ``wait_for_ready`` on a client without a kernel manager
        declares "Kernel died before replying to kernel_info" when one heartbeat is not answered
        within 1 s (``HBChannel.time_to_dead``), which a healthy kernel misses while it imports on a
        loaded machine. A kernel that really died (the server lost it) is replaced, ``attempts``
        times in all; ``timeout`` only bounds a hang, per attempt.
        """
        problems = []
        for attempt in range(1, attempts + 1):
            session = self.api("POST", "/api/sessions", {
                "path": notebook, "name": Path(notebook).name, "type": "notebook", "kernel": {"name": "python3"}},
                timeout=timeout)
            kernel_id = session["kernel"]["id"]
            problem = self._wait_for_kernel(kernel_id, timeout)
            if problem is None:
                return kernel_id
            problems.append(f"attempt {attempt}: kernel {kernel_id} {problem}")
            with contextlib.suppress(urllib.error.URLError, OSError):  # a fresh session for the next attempt
                self.api("DELETE", f"/api/sessions/{session['id']}", timeout=timeout)
        log = self.log.read_text(errors="replace").splitlines()[-40:] if self.log.exists() else []
        raise RuntimeError(f"the kernel of {notebook} did not start: " + "; ".join(problems)
                           + f"\nlast lines of {self.log}:\n" + "\n".join(log))

    def _kernel_state(self, kernel_id: str) -> str:
        """The server's ``execution_state`` of the kernel; "gone" when it no longer lists it."""
        try:
            return str(self.api("GET", f"/api/kernels/{kernel_id}").get("execution_state"))
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return "gone"
            raise

    def _wait_for_kernel(self, kernel_id: str, timeout: float) -> str | None:
        """None once the kernel answers ``kernel_info``; else what went wrong (died, or no answer)."""
        from queue import Empty

        from jupyter_client import BlockingKernelClient

        client = BlockingKernelClient(connection_file=str(self.home / "runtime" / f"kernel-{kernel_id}.json"))
        client.load_connection_file()
        client.start_channels(shell=True, iopub=False, stdin=False, hb=False, control=False)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                client.kernel_info()
                wait_until = time.monotonic() + 5
                while time.monotonic() < wait_until:
                    try:
                        if client.get_shell_msg(timeout=1)["msg_type"] == "kernel_info_reply":
                            return None  # (an answer to any of our requests)
                    except Empty:
                        continue
                state = self._kernel_state(kernel_id)
                if state in ("dead", "gone"):
                    return f"died before answering (server: {state})"
            return f"did not answer kernel_info within {timeout:g} s"
        finally:
            client.stop_channels()


def _private_state(home: Path) -> dict[str, str]:
    """Create the server's private Jupyter folders under ``home``; return the environment for it."""
    dirs = {name: home / name for name in ("config", "data", "runtime", "settings", "workspaces", "ipython")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    os.chmod(dirs["runtime"], 0o700)
    # The one kernel spec the server offers: this interpreter (so the kernel imports this checkout).
    spec = dirs["data"] / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (ipykernel)", "language": "python"}))
    for plugin, values in LAB_SETTINGS.items():
        package, name = plugin.split(":")
        path = dirs["settings"] / package / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "IPYTHON"))}
    env.update(
        JUPYTER_CONFIG_DIR=str(dirs["config"]), JUPYTER_DATA_DIR=str(dirs["data"]),
        JUPYTER_RUNTIME_DIR=str(dirs["runtime"]), JUPYTERLAB_SETTINGS_DIR=str(dirs["settings"]),
        JUPYTERLAB_WORKSPACES_DIR=str(dirs["workspaces"]), IPYTHONDIR=str(dirs["ipython"]),
        JUPYTER_PLATFORM_DIRS="1", JUPYTER_PREFER_ENV_PATH="0",  # the private data folder comes first
        PYDEVD_DISABLE_FILE_VALIDATION="1", MPLBACKEND="Agg",
    )
    return env


@contextlib.contextmanager
def jupyter_lab(root: Path, log: Path, timeout: float = 300.0) -> Iterator[LabServer]:
    """Start JupyterLab on 127.0.0.1 with a random port and token; always stop it afterwards.

    The server runs with the interpreter of the test, in its own process group so that the kernels
    it starts are stopped with it, and with private state (see the module docstring).
    """
    token = secrets.token_hex(24)
    # Short and absolute: IPC socket paths (runtime/kernel-<uuid>-ipc-N) must stay under 108 bytes.
    home = Path(tempfile.mkdtemp(prefix="vmo-lab-", dir="/tmp" if Path("/tmp").is_dir() else None))
    try:
        env = _private_state(home)
        for _attempt in range(3):  # a port taken between free_port() and bind: try another
            port = free_port()
            cmd = [
                sys.executable, "-m", "jupyterlab", "--no-browser", "--expose-app-in-browser",
                f"--IdentityProvider.token={token}", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
                "--ServerApp.ip=127.0.0.1", f"--ServerApp.root_dir={root}", "--ServerApp.allow_root=True",
                "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                f"--LabApp.user_settings_dir={home / 'settings'}", f"--LabApp.workspaces_dir={home / 'workspaces'}",
                "--NotebookNotary.db_file=:memory:", "--KernelManager.transport=ipc",
            ]
            with log.open("ab") as fh:
                proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
            url = f"http://127.0.0.1:{port}"
            try:
                if _wait_until_up(url, token, proc, timeout):
                    yield LabServer(url=url, token=token, root=root, process=proc, log=log, home=home)
                    return
            finally:
                _stop(proc)
        raise RuntimeError(f"JupyterLab did not start; see {log}:\n{log.read_text(errors='replace')[-3000:]}")
    finally:
        shutil.rmtree(home, ignore_errors=True)


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
    """Write ``dest`` (.ipynb) from a jupytext py:percent file, with the ``python3`` kernel spec."""
    import jupytext

    nb = jupytext.read(src)
    # A plain notebook, not one paired with the .py (JupyterLab's jupytext extension would refuse
    # to open an .ipynb whose pairing formats do not list ipynb).
    nb.metadata.pop("jupytext", None)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    jupytext.write(nb, dest)
    return dest
