"""The notebooks in a real browser: JupyterLab driven by Debian's Chromium through Playwright.

Widgets that work in a kernel can still fail in the browser (a missing extension, a JavaScript
error, a blank plot), so these helpers test what a user actually sees:

- ``LabServer`` copies the notebooks to a temporary folder (running them never dirties the
  repository), starts ``jupyter lab`` on 127.0.0.1 with a free port, a random token, no browser
  of its own, isolated Jupyter/IPython settings, no network calls (news, update checks, extension
  manager) and ``LORETTA_QUICK=1`` so the notebooks run in test mode. ``stop()`` always shuts the
  server *and its kernels* down, also after a failure.
- ``launch_browser`` starts headless Chromium (``/usr/bin/chromium``; Playwright's own browser
  download cannot work offline).
- ``LabPage`` opens a notebook in a fresh workspace, runs all cells from the Run menu, waits until
  the kernel is idle and no cell shows ``[*]``, and collects what went wrong: tracebacks in cell
  outputs (also inside Output widgets), widgets that failed to render, JavaScript errors in the
  page and console errors that are not on the ``BENIGN_CONSOLE`` list.
- Slider helpers (``find_slider``, ``move_slider``, ``drag_slider``, ``readout``), ``text_of``,
  ``images``, ``wait_until`` / ``wait_for_change`` / ``wait_for_value`` (their failures list the
  errors the page shows) and ``screenshot`` (into ``test-artifacts/browser/``).
- pytest fixtures: ``chromium_executable`` and ``lab_server`` / ``lab_browser`` (session) and
  ``lab_page`` (function). Without Chromium the tests skip with a message saying how to enable
  them; under CI (``CI=true``) a missing browser is a failure.

Selectors are JupyterLab 4 and ipywidgets 8 ones; they are collected in ``SEL`` below.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # playwright is imported lazily: without it the tests skip (or fail under CI)
    from playwright.sync_api import Browser, Locator, Page

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
ARTIFACTS = REPO / "test-artifacts" / "browser"

ENABLE_HINT = "install Debian's chromium (sudo apt-get install chromium) to run the browser tests"
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",  # small /dev/shm in containers crashes tabs otherwise
]
VIEWPORT = {"width": 1400, "height": 1000}

# JupyterLab 4.6 / ipywidgets 8.1 selectors, in one place so a version bump is one edit.
SEL = {
    "notebook": "#jp-main-dock-panel .jp-NotebookPanel .jp-Notebook",
    "cell": ".jp-Cell",
    "code_cell": ".jp-CodeCell",
    "prompt": ".jp-InputArea-prompt",  # "[ ]:", "[*]:", "[3]:"
    "kernel_status": ".jp-Notebook-ExecutionIndicator",  # data-status="idle" | "busy" | ...
    "menubar_item": "#jp-menu-panel .lm-MenuBar-item",
    "run_all": '.lm-Menu .lm-Menu-item[data-command="runmenu:run-all"]',
    "output": ".jp-OutputArea-output",
    "stderr": '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]',
    "widget_output": ".jupyter-widgets-output-area",
    "widget_error": ".jupyter-widgets-error-widget",
    "slider": ".widget-slider",
    "slider_label": ".widget-label",
    "slider_handle": ".noUi-handle",
    "slider_track": ".noUi-base",
    "readout": ".widget-readout",
    "html": ".widget-html",
    "label": ".widget-label-basic",
    "image": ".jp-OutputArea-output img",
    "left_sidebar_current": ".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current",
    # plotly (rendered by the JupyterLab extension that ships inside the plotly package)
    "plotly": "#jp-main-dock-panel .jp-NotebookPanel .jp-Notebook .js-plotly-plot",
    "plotly_point": ".scatterlayer .trace .points path.point",
    "plotly_hover": ".hoverlayer .hovertext",
}

# Console messages of type "error" that are not a user-visible fault. Each entry says why.
BENIGN_CONSOLE: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"favicon\.ico"), "a missing favicon is cosmetic"),
    (
        re.compile(r"WebSocket connection to .*/api/kernels/.* failed"),
        "the kernel websocket closes when a kernel is shut down or restarted",
    ),
    (re.compile(r"/api/(news|update)\b"), "news/update checks are switched off offline"),
    (re.compile(r"/lsp/status"), "jupyter-lsp without any language server installed"),
]

# A stderr output is an *error* (not a warning or a log line) when it looks like a traceback.
ERROR_TEXT = re.compile(
    r"Traceback \(most recent call last\)"
    r"|^\s*[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)\b(:|\s*$)"
    r"|^Javascript Error:",
    re.M,
)


# --------------------------------------------------------------------------------------------
# Chromium: find it, or skip (fail under CI) with a message saying how to enable the tests.
# --------------------------------------------------------------------------------------------


def chromium_path() -> str | None:
    """The Chromium executable to drive, or None. ``LORETTA_CHROMIUM`` overrides the search."""
    override = os.environ.get("LORETTA_CHROMIUM")
    if override:
        return override if os.access(override, os.X_OK) else None
    for candidate in CHROMIUM_CANDIDATES:
        found = (
            shutil.which(candidate)
            if not os.path.isabs(candidate)
            else (candidate if os.access(candidate, os.X_OK) else None)
        )
        if found:
            return found
    return None


def _unavailable(why: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(
            f"{why}. Under CI (CI=true) a missing browser is a failure: "
            f"`make test` as root installs it with apt-get; otherwise {ENABLE_HINT}.",
            pytrace=False,
        )
    pytest.skip(f"{why}: {ENABLE_HINT}")


def require_chromium() -> str:
    """The Chromium path; skips the test (fails it under ``CI=true``) when Chromium is missing."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _unavailable("The `playwright` Python package is missing (pip install -e '.[dev]')")
    path = chromium_path()
    if path is None:
        _unavailable(
            "Chromium is not installed (looked for /usr/bin/chromium, chromium on PATH"
            ", $LORETTA_CHROMIUM)"
        )
    return path  # type: ignore[return-value]


# --------------------------------------------------------------------------------------------
# The JupyterLab server.
# --------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def default_content() -> dict[str, Path]:
    """What a test server serves: lessons under ``notebooks/``, demos under ``fixtures/``."""
    content = {"fixtures": FIXTURES}
    if NOTEBOOKS.is_dir():
        content["notebooks"] = NOTEBOOKS
    return content


# User settings written into the server's private settings folder.
USER_SETTINGS = {
    # Attach every cell to the DOM, so outputs below the fold are inspected too.
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    # No "get Jupyter news?" toast, no update check (both would reach the network).
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
}

SERVER_CONFIG = """\
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
c.LabApp.extension_manager = "readonly"
c.ServerApp.terminals_enabled = False
c.LanguageServerManager.autodetect = False
# A safety net should pytest itself be killed: unwatched idle kernels are culled, and a server
# without kernels or requests exits, after ten minutes (a normal run never gets there).
c.MappingKernelManager.cull_idle_timeout = 600
c.MappingKernelManager.cull_interval = 60
c.ServerApp.shutdown_no_activity_timeout = 600
"""


class LabServer:
    """A throw-away ``jupyter lab`` serving copies of ``content`` (name in the server -> source).

    Use as a context manager; ``stop()`` is idempotent and also registered with ``atexit``.
    """

    def __init__(
        self,
        content: dict[str, Path] | None = None,
        *,
        env: dict[str, str] | None = None,
        startup_timeout: float = 90.0,
    ):
        self.content = default_content() if content is None else content
        self.extra_env = env or {}
        self.startup_timeout = startup_timeout
        self.port = 0
        self.token = secrets.token_hex(16)
        self.tmp: Path | None = None
        self.root: Path | None = None  # the served folder
        self.proc: subprocess.Popen[bytes] | None = None
        self._log = None

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> LabServer:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="loretta-lab-"))
        self.root = self.tmp / "content"
        self.root.mkdir()
        for name, src in self.content.items():
            dst = self.root / name
            if src.is_dir():
                shutil.copytree(
                    src,
                    dst,
                    ignore=shutil.ignore_patterns(
                        ".ipynb_checkpoints", "__pycache__", "*-executed.ipynb", "*.executed.ipynb"
                    ),
                )
            else:
                shutil.copy2(src, dst)
        if (REPO / "data").is_dir():  # notebooks may read ../data as they do in the repository
            (self.root / "data").symlink_to(REPO / "data", target_is_directory=True)
        settings = self.tmp / "user-settings"
        for plugin, values in USER_SETTINGS.items():
            path = settings / f"{plugin}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        config = self.tmp / "config"
        config.mkdir()
        (config / "jupyter_server_config.py").write_text(SERVER_CONFIG)

        env = dict(os.environ)
        env.pop("MPLBACKEND", None)  # the kernel's inline backend must draw the figures
        env.pop("JUPYTER_TOKEN", None)
        env.update(
            LORETTA_QUICK="1",
            JUPYTER_CONFIG_DIR=str(config),
            JUPYTER_DATA_DIR=str(self.tmp / "data"),
            JUPYTER_RUNTIME_DIR=str(self.tmp / "runtime"),
            IPYTHONDIR=str(self.tmp / "ipython"),
            JUPYTER_PLATFORM_DIRS="1",
            PYDEVD_DISABLE_FILE_VALIDATION="1",
        )
        env.update(self.extra_env)

        self.port = free_port()
        cmd = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--port-retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            f"--LabApp.workspaces_dir={self.tmp / 'workspaces'}",
            f"--LabApp.user_settings_dir={settings}",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")  # CI containers run as root
        self._log = open(self.tmp / "server.log", "wb")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            cmd,
            cwd=self.root,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        atexit.register(self.stop)
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited during startup:\n{self.log_tail()}")
            try:
                self.api("GET", "/api/status", timeout=2)
                return
            except (OSError, urllib.error.URLError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"jupyter lab did not answer /api/status within "
                    f"{self.startup_timeout:.0f} s:\n{self.log_tail()}"
                )
            time.sleep(0.2)

    def stop(self) -> None:
        """Shut down kernels and server; kill what survives; keep the log in test-artifacts."""
        proc, self.proc = self.proc, None
        if proc is not None:
            kids = _descendants(proc.pid)
            if proc.poll() is None:
                with contextlib.suppress(Exception):  # graceful: the server stops its kernels
                    self.api("POST", "/api/shutdown", timeout=10)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    _killpg(proc.pid, signal.SIGTERM)
                    try:
                        proc.wait(timeout=5)
                    except subprocess.TimeoutExpired:
                        _killpg(proc.pid, signal.SIGKILL)
                        proc.wait()
            for kid in kids:  # kernels run in their own sessions: end any survivor by itself
                with contextlib.suppress(Exception):
                    if kid.is_running():
                        kid.kill()
                        kid.wait(timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None
        if self.tmp is not None:
            with contextlib.suppress(OSError):
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                shutil.copy(self.tmp / "server.log", ARTIFACTS / "jupyter-server.log")
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None

    # -- HTTP ----------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def api(self, method: str, path: str, body: Any = None, timeout: float = 10) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.base_url + path,
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def lab_url(self, notebook: str, workspace: str) -> str:
        """The notebook in its own, freshly reset workspace."""
        return (
            f"{self.base_url}/lab/workspaces/{workspace}/tree/{urllib.parse.quote(notebook)}"
            f"?token={self.token}&reset"
        )

    def kernel_state(self, notebook: str) -> str | None:
        """The server's view of the notebook's kernel: "idle", "busy", "starting" or None."""
        for session in self.api("GET", "/api/sessions"):
            if session.get("path") == notebook and session.get("kernel"):
                return session["kernel"].get("execution_state")
        return None

    def shutdown_kernels(self) -> None:
        """End every session and kernel (between tests, so they do not compete for the CPUs)."""
        with contextlib.suppress(Exception):
            for session in self.api("GET", "/api/sessions"):
                with contextlib.suppress(Exception):
                    self.api("DELETE", f"/api/sessions/{session['id']}", timeout=20)
            for kernel in self.api("GET", "/api/kernels"):
                with contextlib.suppress(Exception):
                    self.api("DELETE", f"/api/kernels/{kernel['id']}", timeout=20)

    def add_notebook(self, relpath: str, notebook: dict[str, Any] | str | Path) -> str:
        """Write a notebook (a dict, JSON text or a file to copy) into the served folder."""
        assert self.root is not None, "server not started"
        dst = self.root / relpath
        dst.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(notebook, dict):
            dst.write_text(json.dumps(notebook, indent=1))
        elif isinstance(notebook, Path):
            shutil.copy2(notebook, dst)
        else:
            dst.write_text(notebook)
        return relpath

    def log_tail(self, chars: int = 4000) -> str:
        if self.tmp is None or not (self.tmp / "server.log").exists():
            return "(no server log)"
        return (self.tmp / "server.log").read_text(errors="replace")[-chars:]


def _descendants(pid: int) -> list[Any]:
    try:
        import psutil

        return psutil.Process(pid).children(recursive=True)
    except Exception:
        return []


def _killpg(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


# --------------------------------------------------------------------------------------------
# The browser.
# --------------------------------------------------------------------------------------------


@contextlib.contextmanager
def launch_browser(executable: str | None = None) -> Iterator[Browser]:
    """Headless Chromium, always closed (and the Playwright driver stopped) on the way out."""
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    try:
        browser = pw.chromium.launch(
            executable_path=executable or chromium_path(), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            with contextlib.suppress(Exception):
                browser.close()
    finally:
        pw.stop()


@dataclass
class Problem:
    """One thing a user would see go wrong."""

    kind: str  # "cell error", "widget error", "widget loading", "page error", "console error"
    text: str
    cell: int | None = None  # counted from 1, top to bottom, markdown cells included

    def __str__(self) -> str:
        where = f" (cell {self.cell})" if self.cell is not None else ""
        text = self.text.strip()
        if len(text) > 1500:
            text = text[:700] + "\n   [...]\n" + text[-700:]
        return f"{self.kind}{where}:\n    " + text.replace("\n", "\n    ")


_PROMPTS_JS = """(sel) => [...document.querySelectorAll(sel.notebook + ' ' + sel.code_cell)]
 .map(c => ({
  prompt: ((c.querySelector(sel.prompt) || {}).textContent || '').trim(),
  empty: ((c.querySelector('.cm-content') || {}).textContent || '').trim() === '',
}))"""

_OUTPUTS_JS = """(sel) => {
  const found = [];
  const cells = [...document.querySelectorAll(sel.notebook + ' ' + sel.cell)];
  cells.forEach((cell, index) => {
    const i = index + 1;  // cells counted from 1, as a reader counts them
    cell.querySelectorAll(sel.stderr).forEach(o => found.push(
      {cell: i, kind: 'stderr', text: o.innerText || o.textContent}));
    cell.querySelectorAll(sel.widget_error).forEach(o => found.push(
      {cell: i, kind: 'widget error',
       text: (o.closest('.jupyter-widgets') || o).innerText || 'widget view failed'}));
    cell.querySelectorAll(sel.output).forEach(o => {
      if (o.querySelector(sel.output)) return;  // innermost output areas only
      const t = (o.textContent || '').trim();
      if (t.startsWith('Error displaying widget'))
        found.push({cell: i, kind: 'widget error', text: t});
      if (t === 'Loading widget...') found.push({cell: i, kind: 'widget loading', text: t});
    });
  });
  return found;
}"""

_SCROLL_TO_ERROR_JS = """(sel) => {
  const bad = [...document.querySelectorAll(sel.stderr + ', ' + sel.widget_error)]
    .find(e => /Traceback|Error/.test(e.textContent || 'Error'));
  if (bad) bad.scrollIntoView({block: 'center'});
}"""

_STATE_JS = """(sel) => {
  const nb = document.querySelector(sel.notebook);
  if (!nb) return {texts: [], images: [], svgs: []};
  const texts = [...nb.querySelectorAll(sel.cell)].map(cell => {
    const area = cell.querySelector('.jp-Cell-outputArea');
    if (!area) return '';
    const copy = area.cloneNode(true);
    copy.querySelectorAll(sel.readout).forEach(r => r.remove());
    return (copy.textContent || '').replace(/\\s+/g, ' ').trim();
  });
  const images = [...nb.querySelectorAll(sel.image)].map(i => i.getAttribute('src') || '');
  const svgs = [...nb.querySelectorAll(sel.output + ' svg')].map(s => s.outerHTML);
  return {texts, images, svgs};
}"""


@dataclass(repr=False)
class LabPage:
    """One Chromium page on the test server, with what it has seen go wrong."""

    page: Page
    server: LabServer
    name: str = "page"
    notebook: str | None = None
    console: list[str] = field(default_factory=list)  # every message, for the artifacts log
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"LabPage({self.notebook or 'nothing open'!r} on {self.server.base_url})"

    def __post_init__(self) -> None:
        self.page.on("console", self._on_console)
        self.page.on("pageerror", self._on_page_error)

    def _on_page_error(self, exc: Any) -> None:
        self.console.append(f"[pageerror] {exc}")
        self.page_errors.append(str(exc))

    def _on_console(self, msg: Any) -> None:
        text = msg.text
        self.console.append(f"[{msg.type}] {text}")
        if msg.type != "error":
            return
        with contextlib.suppress(Exception):
            url = (msg.location or {}).get("url") or ""
            if url and url not in text:
                text = f"{text} [{url}]"
        if not any(pattern.search(text) for pattern, _ in BENIGN_CONSOLE):
            self.console_errors.append(text)

    # -- notebook --------------------------------------------------------------------------------

    def open(self, notebook: str, timeout: float = 90) -> LabPage:
        """Open ``notebook`` (path in the server) in a fresh workspace; wait for an idle kernel."""
        self.notebook = notebook
        workspace = re.sub(r"[^A-Za-z0-9-]+", "-", f"{self.name}-{secrets.token_hex(3)}")[-60:]
        self.page.goto(self.server.lab_url(notebook, workspace), timeout=timeout * 1000)
        self.page.wait_for_selector(f"{SEL['notebook']} {SEL['cell']}", timeout=timeout * 1000)
        with contextlib.suppress(Exception):  # more room for the notebook in screenshots
            self.page.locator(SEL["left_sidebar_current"]).first.click(timeout=2000)
        self._wait(
            lambda: self.server.kernel_state(notebook) == "idle" and self._indicator() == "idle",
            timeout,
            "the kernel to start and be idle",
        )
        return self

    def _indicator(self) -> str | None:
        loc = self.page.locator(SEL["kernel_status"]).first
        return loc.get_attribute("data-status") if loc.count() else None

    def prompts(self) -> list[dict[str, Any]]:
        return self.page.evaluate(_PROMPTS_JS, SEL)

    def run_all(self, timeout: float = 240) -> LabPage:
        """Run > Run All Cells; wait until done (idle kernel, no ``[*]``) or an error stops it."""
        self.page.locator(SEL["menubar_item"]).filter(has_text=re.compile(r"^\s*Run\s*$")).click()
        self.page.locator(SEL["run_all"]).click()
        self.wait_until_idle(timeout)
        return self

    def wait_until_idle(self, timeout: float = 240) -> None:
        """Until the kernel is idle, no prompt shows ``[*]`` and every non-empty code cell ran
        (or a cell error stopped the run); checked twice in a row."""

        def done() -> bool:
            prompts = self.prompts()
            if any(p["prompt"].startswith("[*]") for p in prompts):
                return False
            if self._indicator() != "idle" or self.server.kernel_state(self.notebook) != "idle":
                return False
            ran = all(p["empty"] or re.match(r"^\[\d+\]", p["prompt"]) for p in prompts)
            return ran or any(p.kind == "cell error" for p in self._output_problems())

        self._wait(done, timeout, "all cells to run and the kernel to be idle", stable=2)

    def _output_problems(self) -> list[Problem]:
        problems, seen = [], set()
        for item in self.page.evaluate(_OUTPUTS_JS, SEL):
            kind, text = item["kind"], item["text"]
            if kind == "stderr":
                if not ERROR_TEXT.search(text):
                    continue  # warnings and log lines on stderr are not errors
                kind = "cell error"
            key = (item["cell"], kind, text)
            if key not in seen:
                seen.add(key)
                problems.append(Problem(kind, text, item["cell"]))
        return problems

    def errors(self, settle: float = 15) -> list[Problem]:
        """Everything wrong a user could see; waits up to ``settle`` s for widgets to load."""
        deadline = time.monotonic() + settle
        while True:
            problems = self._output_problems()
            if not any(p.kind == "widget loading" for p in problems) or time.monotonic() > deadline:
                break
            time.sleep(0.25)
        problems += [Problem("page error", t) for t in self.page_errors]
        problems += [Problem("console error", t) for t in self.console_errors]
        return problems

    def shows_errors(self) -> bool:
        """Whether the page shows an error now (widgets still loading do not count)."""
        if self.page_errors or self.console_errors:
            return True
        try:
            return any(p.kind != "widget loading" for p in self._output_problems())
        except Exception:
            return False

    def assert_no_errors(self, step: str = "errors") -> None:
        problems = self.errors()
        if problems:
            self.scroll_to_first_error()
            shot = self.screenshot(step)
            listing = "\n".join(f"  - {p}" for p in problems)
            raise AssertionError(
                f"{self.notebook}: {len(problems)} problem(s) in the browser "
                f"(screenshot {shot}):\n{listing}"
            )

    # -- looking and waiting ---------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Outputs as a user sees them: per-cell text (slider readouts left out), images, SVGs."""
        return self.page.evaluate(_STATE_JS, SEL)

    def screenshot(self, step: str, around: Locator | None = None) -> Path:
        """The page as a PNG; scrolled so that ``around`` (e.g. a slider) sits at the top."""
        if around is not None:
            with contextlib.suppress(Exception):
                around.evaluate("el => el.scrollIntoView({block: 'start'})", timeout=5000)
        return screenshot(self.page, f"{self.name}-{step}")

    def scroll_to_first_error(self) -> None:
        with contextlib.suppress(Exception):
            self.page.evaluate(_SCROLL_TO_ERROR_JS, SEL)

    def _wait(
        self, predicate: Callable[[], bool], timeout: float, what: str, stable: int = 1
    ) -> None:
        deadline, streak = time.monotonic() + timeout, 0
        while True:
            streak = streak + 1 if predicate() else 0
            if streak >= stable:
                return
            if time.monotonic() > deadline:
                prompts = [p["prompt"] for p in self.prompts()]
                raise AssertionError(
                    f"{self.notebook}: timed out after {timeout:.0f} s waiting "
                    f"for {what}; prompts {prompts}{_page_context(self)}"
                )
            time.sleep(0.25)

    def _safe_errors(self) -> list[Problem]:
        try:
            return self.errors(settle=0)
        except Exception:
            return []


# --------------------------------------------------------------------------------------------
# Widgets, text, images, screenshots.
# --------------------------------------------------------------------------------------------


def find_slider(page: Page | LabPage, description: str | None = None) -> Locator:
    """The first visible ipywidgets slider, or the one whose description is ``description``."""
    page = page.page if isinstance(page, LabPage) else page
    sliders = page.locator(SEL["slider"])
    if description is not None:
        label = re.compile(rf"^\s*{re.escape(description)}\s*:?\s*$")
        sliders = sliders.filter(has=page.locator(SEL["slider_label"], has_text=label))
    slider = sliders.first
    try:
        slider.wait_for(state="visible", timeout=15_000)
    except Exception as exc:
        what = f"slider {description!r}" if description else "slider"
        raise AssertionError(
            f"no visible {what} in the page ({page.locator(SEL['slider']).count()}"
            f" slider(s) in total)"
        ) from exc
    return slider


def readout(slider: Locator) -> str:
    """The slider's shown value: its readout, or the handle's aria-valuetext when hidden."""
    shown = slider.locator(SEL["readout"])
    if shown.count() and shown.first.is_visible():
        return shown.first.inner_text().strip()
    handle = slider.locator(SEL["slider_handle"]).first
    return (handle.get_attribute("aria-valuetext") or "").strip()


def move_slider(slider: Locator, key: str = "ArrowRight", times: int = 1) -> str:
    """Click the slider's handle and press ``key`` ``times`` times; the new readout.

    noUiSlider (ipywidgets 8) moves one step per arrow key; PageUp/PageDown move further.
    """
    handle = slider.locator(SEL["slider_handle"]).first
    handle.scroll_into_view_if_needed()
    handle.click()
    for _ in range(times):
        handle.press(key)
    return readout(slider)


def drag_slider(slider: Locator, fraction: float) -> str:
    """Drag the handle with the mouse to ``fraction`` (0..1) of the track; the new readout."""
    page = slider.page
    handle = slider.locator(SEL["slider_handle"]).first
    handle.scroll_into_view_if_needed()
    hbox, tbox = handle.bounding_box(), slider.locator(SEL["slider_track"]).first.bounding_box()
    assert hbox and tbox, "slider is not laid out"
    y = hbox["y"] + hbox["height"] / 2
    page.mouse.move(hbox["x"] + hbox["width"] / 2, y)
    page.mouse.down()
    page.mouse.move(tbox["x"] + fraction * tbox["width"], y, steps=8)
    page.mouse.up()
    return readout(slider)


def text_of(locator: Locator) -> str:
    """The locator's visible text with whitespace collapsed."""
    return re.sub(r"\s+", " ", locator.inner_text()).strip()


def images(page: Page | LabPage) -> list[str]:
    """A short digest of every image in the notebook's outputs, in page order."""
    page = page.page if isinstance(page, LabPage) else page
    srcs = page.locator(SEL["image"]).evaluate_all("els => els.map(e => e.getAttribute('src'))")
    srcs = [s or "" for s in srcs]
    return [hashlib.sha1(s.encode()).hexdigest()[:12] for s in srcs]


def wait_until(
    predicate: Callable[[], Any],
    what: str,
    timeout: float = 30,
    page: LabPage | None = None,
    describe: Callable[[], str] | None = None,
    stop_on_error: bool = True,
) -> Any:
    """Poll ``predicate()`` until it is truthy; its value, or an AssertionError that says what
    was awaited, what is shown now (``describe``), the errors the page shows and a screenshot.

    With a ``page``, an error shown in it (a traceback, a broken widget, a JavaScript error)
    ends the wait at once unless ``stop_on_error`` is False.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        expired = time.monotonic() > deadline
        if expired or (page is not None and stop_on_error and page.shows_errors()):
            now = f"; now {describe()}" if describe else ""
            verdict = f"within {timeout:.0f} s" if expired else "(the page shows errors)"
            raise AssertionError(f"{what} {verdict}{now}{_page_context(page)}")
        time.sleep(0.2)


def wait_for_change(
    read: Callable[[], Any],
    before: Any,
    what: str,
    timeout: float = 30,
    page: LabPage | None = None,
    stop_on_error: bool = True,
) -> Any:
    """Poll ``read()`` until it differs from ``before``; the new value."""
    box: list[Any] = []

    def changed() -> bool:
        box[:] = [read()]
        return box[0] != before

    wait_until(
        changed,
        f"{what} did not change",
        timeout,
        page,
        describe=lambda: f"still {_short(box[0] if box else before)}",
        stop_on_error=stop_on_error,
    )
    return box[0]


def wait_for_value(
    read: Callable[[], Any],
    expected: Any,
    what: str,
    timeout: float = 30,
    page: LabPage | None = None,
    stop_on_error: bool = True,
) -> Any:
    """Poll ``read()`` until it equals ``expected`` (a slider passes intermediate values)."""
    box: list[Any] = []

    def equal() -> bool:
        box[:] = [read()]
        return box[0] == expected

    wait_until(
        equal,
        f"{what} did not become {_short(expected)}",
        timeout,
        page,
        describe=lambda: _short(box[0] if box else None),
        stop_on_error=stop_on_error,
    )
    return box[0]


def _page_context(page: LabPage | None) -> str:
    if page is None:
        return ""
    dialog = ""
    with contextlib.suppress(Exception):
        boxes = page.page.locator(".jp-Dialog:visible")
        if boxes.count():
            dialog = f"\nA dialog is open: {text_of(boxes.first)!r}"
    shot = page.screenshot("failed")
    found = page._safe_errors()
    problems = (
        "\nProblems shown in the page:\n" + "\n".join(f"  - {p}" for p in found)
        if found
        else "\nNo error is shown in the page."
    )
    return f" (screenshot {shot}){dialog}{problems}"


def exercise_first_slider(lab: LabPage, timeout: float = 60) -> tuple[str, str]:
    """The generic check for a lesson: move the first slider one step (right, or left when it
    is at its maximum) and wait until some output text (readouts left out) or a figure in the
    notebook changes, with no error shown. Returns the readout before and after."""

    def driven() -> tuple[list[str], list[str]]:
        state = lab.state()
        return state["texts"], state["images"] + state["svgs"]

    slider = find_slider(lab)
    value, before = readout(slider), driven()
    move_slider(slider, "ArrowRight")
    try:
        shown = wait_for_change(lambda: readout(slider), value, "the slider readout", timeout=2)
    except AssertionError:  # already at its maximum: go the other way
        move_slider(slider, "ArrowLeft")
        shown = wait_for_change(lambda: readout(slider), value, "the slider readout", page=lab)
    wait_for_change(
        driven,
        before,
        f"the text or figure driven by the first slider (moved {value} -> {shown})",
        timeout=timeout,
        page=lab,
    )
    lab.assert_no_errors("after-move")
    return value, shown


def plotly_charts(page: Page | LabPage) -> Locator:
    """Every plotly chart in the notebook's outputs (drawn, not only its mime bundle)."""
    page = page.page if isinstance(page, LabPage) else page
    return page.locator(SEL["plotly"])


def hover_point(chart: Locator, index: int) -> str:
    """Move the mouse onto marker `index` of a plotly chart, as a person would, and return the
    hover text that appears ("" if none does). The mouse stays there (for a screenshot)."""
    page = chart.page
    box = chart.locator(SEL["plotly_point"]).nth(index).bounding_box()
    if not box:
        return ""
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, steps=4)
    hover = chart.locator(SEL["plotly_hover"])
    try:
        hover.first.wait_for(state="attached", timeout=3000)
    except Exception:
        return ""
    return re.sub(r"\s+", " ", hover.first.text_content() or "").strip()


def hover_texts(chart: Locator, limit: int = 40) -> list[str]:
    """The hover text of each marker of a plotly chart, in the order of the markers in the page."""
    chart.scroll_into_view_if_needed()
    shown = []
    for i in range(min(chart.locator(SEL["plotly_point"]).count(), limit)):
        shown.append(hover_point(chart, i))
        chart.page.mouse.move(1, 1)  # away, so the next hover starts fresh
    return shown


def _short(value: Any, n: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= n else text[:n] + "..."


def screenshot(target: Page | Locator, name: str) -> Path:
    """A PNG in ``test-artifacts/browser/`` (git ignores it); the path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / (re.sub(r"[^\w.-]+", "_", name).strip("_")[:120] + ".png")
    with contextlib.suppress(Exception):
        target.screenshot(path=str(path), timeout=10_000)
    return path


# --------------------------------------------------------------------------------------------
# pytest fixtures. Import the four ``fixture_*`` functions into a test module; tests then ask
# for ``lab_page`` (and ``lab_server``, ``lab_browser``, ``chromium_executable``) by name.
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session", name="chromium_executable")
def fixture_chromium_executable() -> str:
    return require_chromium()


@pytest.fixture(scope="session", name="lab_server")
def fixture_lab_server(chromium_executable: str) -> Iterator[LabServer]:
    with LabServer() as server:
        yield server


@pytest.fixture(scope="session", name="lab_browser")
def fixture_lab_browser(chromium_executable: str) -> Iterator[Browser]:
    with launch_browser(chromium_executable) as browser:
        yield browser


@pytest.fixture(name="lab_page")
def fixture_lab_page(
    request: pytest.FixtureRequest, lab_server: LabServer, lab_browser: Browser
) -> Iterator[LabPage]:
    """A fresh browser context and page; closed, with the kernels shut down, after the test."""
    context = lab_browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        lab = LabPage(page, lab_server, name=request.node.name)
        yield lab
        if lab.notebook is not None:
            lab.screenshot("final")
            with contextlib.suppress(OSError):
                log = ARTIFACTS / (re.sub(r"[^\w.-]+", "_", lab.name).strip("_") + "-console.log")
                log.write_text("\n".join(lab.console) + "\n")
    finally:
        with contextlib.suppress(Exception):
            context.close()
        lab_server.shutdown_kernels()
