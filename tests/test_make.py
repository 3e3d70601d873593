"""The Makefile: `make lab` works as root (containers, cloud notebooks) and as a normal user.

Jupyter refuses to start as root unless given ``--allow-root``; the Makefile adds it only when
``id -u`` is 0. The fast tests read what make would run (``make -n``), with a stand-in ``id`` for
the other kind of user; the slow one starts the real ``make lab`` headless, waits until the server
answers, and stops it. Both point make at this interpreter's environment (``BIN=``) and a fresh
install stamp (``STAMP=``), so nothing is installed.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def _stamp(tmp_path: Path) -> Path:
    """An install stamp newer than pyproject.toml, so `setup` has nothing to do."""
    stamp = tmp_path / "installed"
    stamp.touch()
    later = max(os.stat(REPO / "pyproject.toml").st_mtime, time.time()) + 60
    os.utime(stamp, (later, later))
    return stamp


def _lab_line(tmp_path: Path, uid: int | None) -> str:
    env = dict(os.environ)
    if uid is not None:  # a stand-in `id` that reports this user id
        fake = tmp_path / "bin"
        fake.mkdir(exist_ok=True)
        (fake / "id").write_text(f"#!/bin/sh\necho {uid}\n")
        (fake / "id").chmod(0o755)
        env["PATH"] = f"{fake}{os.pathsep}{env['PATH']}"
    out = subprocess.run(
        ["make", "-n", "lab", f"BIN={BIN}", f"STAMP={_stamp(tmp_path)}"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    lines = [line for line in out.stdout.splitlines() if "jupyter lab" in line]
    assert len(lines) == 1, out.stdout
    assert "pip install" not in out.stdout, "the fresh stamp should leave nothing to install"
    return lines[0]


def test_make_lab_allows_root_only_for_root(tmp_path):
    assert "--allow-root" in _lab_line(tmp_path, uid=0).split()
    assert "--allow-root" not in _lab_line(tmp_path, uid=1000).split()
    assert f"{BIN}/jupyter lab --notebook-dir=notebooks" in _lab_line(tmp_path, uid=1000)


def test_make_lab_as_whoever_runs_the_tests(tmp_path):
    line = _lab_line(tmp_path, uid=None)
    assert ("--allow-root" in line.split()) == (os.geteuid() == 0)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_make_lab_starts_jupyterlab(tmp_path):
    if not (BIN / "jupyter-lab").exists():
        pytest.skip(f"JupyterLab is not installed in {BIN}")
    port, token = _free_port(), secrets.token_hex(8)
    args = (
        f"--no-browser --port={port} --ServerApp.ip=127.0.0.1 --IdentityProvider.token={token} "
        f"--ServerApp.shutdown_no_activity_timeout=120"
    )
    log = (tmp_path / "lab.log").open("w")
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    proc = subprocess.Popen(
        ["make", "lab", f"BIN={BIN}", f"STAMP={_stamp(tmp_path)}", f"LAB_ARGS={args}"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline, status = time.monotonic() + 120, None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/api/status?token={token}", timeout=5
                ) as r:
                    status = r.status
                break
            except OSError:
                time.sleep(1)
        text = (tmp_path / "lab.log").read_text()
        assert status == 200, (
            f"JupyterLab did not come up (make exited {proc.poll()}):\n{text[-3000:]}"
        )
        assert "Running as root is not recommended" not in text
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # make and the jupyter it started, nothing else
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        log.close()
