"""`kedro jupyter lab` (how the README opens the notebooks) starts a server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

# End-to-end: a real `kedro jupyter lab` process (the Kedro CLI's start-up dominates).
pytestmark = pytest.mark.slow

PROJECT_ROOT = Path(__file__).resolve().parents[1]
KERNEL = "kedro_nyc_lakehouse"  # the kernel `kedro jupyter lab` registers for this package
# 127.0.0.1 is never sent through an HTTP(S)_PROXY of the environment.
_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> tuple[int, bytes]:
    try:
        with _LOCAL.open(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, b""


def _stop(server: subprocess.Popen) -> None:
    # `kedro jupyter lab` runs `jupyter lab` as its child: stop the whole process group.
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="stops the server's process group (POSIX)")
def test_kedro_jupyter_lab_serves_the_lab_with_the_kedro_kernel(tmp_path):
    port, token = _free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "KEDRO_DISABLE_TELEMETRY": "true",
        # The kernel spec and runtime files go to the test's folder, not the user's ~/.local.
        "JUPYTER_DATA_DIR": str(tmp_path / "jupyter-data"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "jupyter-runtime"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"),
    }
    args = ["--no-browser", "--ip=127.0.0.1", f"--port={port}"]
    args += [f"--IdentityProvider.token={token}", "--ServerApp.port_retries=0"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--allow-root")  # containers and CI run as root; Jupyter refuses it otherwise
    log = tmp_path / "lab.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "kedro", "jupyter", "lab", *args],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        status = 0
        while time.monotonic() < deadline and server.poll() is None:
            try:
                status, body = _get(f"{base}/api/status?token={token}")
            except OSError:  # not listening yet
                status = 0
            if status == 200:
                break
            time.sleep(0.25)
        assert status == 200, f"no server answered on {base}:\n{log.read_text()[-3000:]}"
        assert "started" in json.loads(body)

        assert _get(f"{base}/api/status")[0] == 403, "without the token the server refuses"
        lab_status, page = _get(f"{base}/lab?token={token}")
        assert lab_status == 200 and b"JupyterLab" in page

        _, specs = _get(f"{base}/api/kernelspecs?token={token}")
        specs = json.loads(specs)
        assert specs["default"] == KERNEL, "new notebooks start on the Kedro kernel"
        argv = specs["kernelspecs"][KERNEL]["spec"]["argv"]
        assert argv[0] == sys.executable, "the kernel runs in the project's environment"
        assert argv[-2:] == ["--ext", "kedro.ipython"], "and loads catalog, context, pipelines"
    finally:
        _stop(server)
    assert server.returncode is not None
