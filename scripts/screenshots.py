#!/usr/bin/env python3
"""Screenshots of the lakehouse in headless Chromium: the docs images and the dashboard check.

    uv run python scripts/screenshots.py [--out docs/images]          # or: make screenshots
    uv run python scripts/screenshots.py dashboard [HTML] [PNG] [--check]

The first form needs a lakehouse built by ``make run`` (the dashboard page and the MLflow store
``mlflow.db``). It starts ``kedro viz run`` and ``mlflow ui`` on free ports of 127.0.0.1, waits
until they answer, and writes three PNGs: ``dashboard.png`` (the offline dashboard page),
``lineage.png`` (kedro-viz: the flowchart of the whole pipeline) and ``mlflow.png`` (the MLflow
UI on the latest finished run of the project's experiment: the forecasting metrics). The servers
are always stopped, whatever happens.

``dashboard`` renders one dashboard page; ``--check`` fails unless every chart div holds a
plotly drawing and the PNG is not blank (the reporting tests use it).

Chromium runs headless with networking features off and a throw-away profile, driven through
the DevTools protocol over a pipe (``--remote-debugging-pipe``, no extra Python package): kedro-viz
and the MLflow UI are single-page apps, so the script waits until the page shows what it should
(nodes drawn, the run's metrics listed), not a fixed time. Needs ``chromium`` (Debian/Ubuntu:
``apt-get install chromium``) or $CHROMIUM pointing at one.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
DOC_IMAGES = ("dashboard.png", "lineage.png", "mlflow.png")

# kedro-viz keeps its UI settings in localStorage["KedroViz"]: no feature tour over the graph,
# light theme (reads better in docs), the pipeline tree open and no minimap.
KEDRO_VIZ_SETTINGS = {
    "showFeatureHints": False,
    "theme": "light",
    "visible": {"sidebar": True, "miniMap": False},
}
# The MLflow UI opens its assistant panel on a first visit from localhost and starts in the GenAI
# view; a run's metrics table is in the "Model training" view.
MLFLOW_UI_SETTINGS = {
    "mlflow.assistant.panelOpen_v1": False,
    "mlflow.assistant.fab.autoOpenedOnFirstLoad_v1": True,
    "mlflow.workflowType_v1": "machine_learning",
}
# kedro-viz's server asks PyPI for its latest version; offline it answers "None", which the UI
# takes for a newer release and covers the graph with an upgrade banner. The browser answers for it.
KEDRO_VIZ_VERSION_PATTERN = "*/api/version*"


def find_chromium() -> str:
    """The Chromium binary: ``$CHROMIUM`` or the first known name on PATH."""
    explicit = os.environ.get("CHROMIUM")
    if explicit:
        return explicit
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    raise SystemExit(
        "Chromium not found: install it (apt-get install chromium) or set CHROMIUM=/path/to/it"
    )


class Browser:
    """Headless Chromium driven through the DevTools protocol over ``--remote-debugging-pipe``.

    Chromium reads commands on its fd 3 and writes replies and events on fd 4, each message a
    JSON document ended by a NUL byte. One page, one session; :meth:`close` stops Chromium.
    """

    def __init__(self, width: int, height: int, timeout: float = 60) -> None:
        self.timeout = timeout
        self._profile = tempfile.TemporaryDirectory(prefix="chromium-profile-")
        command_read, self._command_write = os.pipe()
        self._event_read, event_write = os.pipe()

        def wire_pipes() -> None:  # in the child, before exec: the pipes become fds 3 and 4
            # F_DUPFD moves them above 10 first, so neither is overwritten by the other dup2
            commands = fcntl.fcntl(command_read, fcntl.F_DUPFD, 10)
            events = fcntl.fcntl(event_write, fcntl.F_DUPFD, 10)
            os.dup2(commands, 3)
            os.dup2(events, 4)

        self._process = subprocess.Popen(
            [
                find_chromium(),
                *FLAGS,
                f"--user-data-dir={self._profile.name}",
                f"--window-size={width},{height}",
                "--remote-debugging-pipe",
                "about:blank",
            ],
            preexec_fn=wire_pipes,  # noqa: PLW1509 - no threads in this script
            close_fds=False,  # fds 3 and 4 must reach Chromium; Python's own fds are CLOEXEC
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(command_read)
        os.close(event_write)
        self._buffer = b""
        self._last_id = 0
        self._replies: dict[int, dict[str, Any]] = {}
        self._handlers: dict[str, Callable[[dict[str, Any]], None]] = {}
        self._session = ""
        try:
            target = self.send("Target.createTarget", url="about:blank")["targetId"]
            attached = self.send("Target.attachToTarget", targetId=target, flatten=True)
            self._session = attached["sessionId"]
            self.command("Page.enable")
            self.command("Runtime.enable")
            self.command(
                "Emulation.setDeviceMetricsOverride",
                width=width,
                height=height,
                deviceScaleFactor=1,
                mobile=False,
            )
        except BaseException:
            self.close()
            raise

    # -- protocol -----------------------------------------------------------------------------
    def _read_message(self, deadline: float) -> dict[str, Any] | None:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._event_read], [], [], left)[0]:
                return None
            chunk = os.read(self._event_read, 1 << 16)
            if not chunk:
                raise RuntimeError(f"Chromium exited (code {self._process.poll()})")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def _dispatch(self, message: dict[str, Any]) -> None:
        if "id" in message:  # a reply; an event handler may have sent a command of its own
            self._replies[message["id"]] = message
            return
        handler = self._handlers.get(message.get("method", ""))
        if handler is not None:
            handler(message.get("params", {}))

    def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        """Send one command and return its result; events that arrive meanwhile are handled."""
        self._last_id += 1
        request: dict[str, Any] = {"id": self._last_id, "method": method, "params": params}
        if session:
            request["sessionId"] = session
        os.write(self._command_write, json.dumps(request).encode() + b"\0")
        request_id, deadline = self._last_id, time.monotonic() + self.timeout
        while request_id not in self._replies:
            message = self._read_message(deadline)
            if message is None:
                raise TimeoutError(f"Chromium did not answer {method} in {self.timeout:.0f} s")
            self._dispatch(message)
        reply = self._replies.pop(request_id)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error'].get('message')}")
        return reply.get("result", {})

    def command(self, method: str, **params: Any) -> dict[str, Any]:
        """A command to the page."""
        return self.send(method, self._session, **params)

    def pump(self, seconds: float) -> None:
        """Handle events for ``seconds`` (the page keeps running meanwhile)."""
        deadline = time.monotonic() + seconds
        while (message := self._read_message(deadline)) is not None:
            self._dispatch(message)

    # -- page ---------------------------------------------------------------------------------
    def before_each_page(self, script: str) -> None:
        """Run ``script`` in every document before its own scripts (e.g. to seed localStorage)."""
        self.command("Page.addScriptToEvaluateOnNewDocument", source=script)

    def answer_requests(self, url_pattern: str, body: dict[str, Any]) -> None:
        """Answer every request matching ``url_pattern`` with ``body`` as JSON, unsent."""
        payload = base64.b64encode(json.dumps(body).encode()).decode()

        def fulfil(params: dict[str, Any]) -> None:
            self.command(
                "Fetch.fulfillRequest",
                requestId=params["requestId"],
                responseCode=200,
                responseHeaders=[{"name": "Content-Type", "value": "application/json"}],
                body=payload,
            )

        self._handlers["Fetch.requestPaused"] = fulfil
        self.command("Fetch.enable", patterns=[{"urlPattern": url_pattern}])

    def navigate(self, url: str) -> None:
        result = self.command("Page.navigate", url=url)
        if result.get("errorText"):
            raise RuntimeError(f"Chromium could not open {url}: {result['errorText']}")

    def evaluate(self, expression: str) -> Any:
        """The JSON value of a JavaScript expression in the page (None when it throws)."""
        result = self.command("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            return None
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float, what: str, settle: float = 1.0) -> Any:
        """Poll ``expression`` until it is truthy and its value held for ``settle`` seconds.

        The settle time lets animations (kedro-viz zooming to fit) and late layout finish.
        """
        deadline = time.monotonic() + timeout
        value, since = None, None
        while time.monotonic() < deadline:
            current = self.evaluate(expression)
            if current and current == value:
                if since is not None and time.monotonic() - since >= settle:
                    return current
            else:
                value, since = current, time.monotonic()
            self.pump(0.25)
        raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what} (last: {value!r})")

    def screenshot(self, png: Path, full_page: bool = False) -> None:
        """The viewport as a PNG, or with ``full_page`` the whole page at the viewport's width."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            content = self.command("Page.getLayoutMetrics")["cssContentSize"]
            clip = {"x": 0, "y": 0, "width": content["width"], "height": content["height"]}
            params.update(captureBeyondViewport=True, clip={**clip, "scale": 1})
        data = self.command("Page.captureScreenshot", **params)["data"]
        png.parent.mkdir(parents=True, exist_ok=True)
        png.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.timeout = 5
            self.send("Browser.close")
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        os.close(self._command_write)
        os.close(self._event_read)
        self._profile.cleanup()


@contextlib.contextmanager
def browser(width: int, height: int) -> Iterator[Browser]:
    chromium = Browser(width, height)
    try:
        yield chromium
    finally:
        chromium.close()


# -- the dashboard ----------------------------------------------------------------------------
# (chart containers in the page, of which plotly drew a plot) once the page loaded; a page
# whose plotly.js is missing stops there with nothing drawn instead of waiting for the timeout.
CHARTS_DRAWN = """(() => {
  if (document.readyState !== 'complete') return null;
  const containers = document.querySelectorAll('.plotly-graph-div').length;
  const drawn = document.querySelectorAll('.plotly-graph-div .plot-container').length;
  if (typeof Plotly !== 'undefined' && drawn < containers) return null;
  return [containers, drawn];
})()"""


def shoot_dashboard(
    chromium: Browser, html: Path, png: Path, full_page: bool = False, timeout: float = 60
) -> tuple[int, int]:
    """Render the dashboard page into ``png``; returns (chart containers, drawn charts)."""
    chromium.navigate(html.resolve().as_uri())
    containers, drawn = chromium.wait_for(CHARTS_DRAWN, timeout, "the dashboard's charts")
    chromium.screenshot(png, full_page=full_page)
    return containers, drawn


def is_blank(png: Path) -> bool:
    """True when the image has (almost) a single colour. Skipped without Pillow."""
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow comes with matplotlib in the project env
        return False
    with Image.open(png) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
    return colours is not None and len(colours) < 10


def optimise_png(png: Path) -> None:
    """Shrink a screenshot for the docs: a 256-colour palette, then zlib's best effort.

    UI screenshots are flat colours and anti-aliased text, which a palette keeps legible at a
    third of the size. Without Pillow the PNG stays as Chromium wrote it.
    """
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover
        return
    with Image.open(png) as image:
        palette = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    palette.save(png, optimize=True)


# -- servers ----------------------------------------------------------------------------------
def free_port(first: int, tries: int = 200) -> int:
    """The first port from ``first`` on that 127.0.0.1 can bind.

    Not an OS-assigned ephemeral port: kedro-viz refuses ports above 49151, and ephemeral ports
    are mostly above that.
    """
    for port in range(first, first + tries):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            # as the servers bind: a port that only has connections closing (TIME_WAIT) is free
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise SystemExit(f"No free port on 127.0.0.1 in {first}-{first + tries - 1}")


def _venv_tool(name: str) -> str:
    """The console script installed next to this interpreter (the project's venv), else PATH."""
    beside = Path(sys.executable).with_name(name)
    return str(beside) if beside.exists() else (shutil.which(name) or name)


class Server:
    """A local web server run as a subprocess in its own process group, with its log kept.

    Both servers start children (kedro-viz serves from a multiprocessing child, the MLflow UI
    from worker processes), so stopping means signalling the whole group.
    """

    def __init__(
        self,
        name: str,
        command: list[str],
        url: str,
        log_dir: Path,
        env: dict[str, str] | None = None,
    ) -> None:
        self.name, self.url = name, url
        self.log = log_dir / f"{name.replace(' ', '-')}.log"
        env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1", **(env or {})}
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=PROJECT_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def wait_until_ready(self, path: str, accept: Callable[[bytes], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(
                    f"{self.name} exited with code {self.process.returncode} before answering:\n"
                    f"{self.log_tail()}"
                )
            with contextlib.suppress(OSError, urllib.error.URLError):
                with urllib.request.urlopen(self.url + path, timeout=5) as response:
                    if response.status == 200 and accept(response.read()):
                        return
            time.sleep(0.5)
        raise SystemExit(
            f"{self.name} did not answer on {self.url}{path} within {timeout:.0f} s:\n"
            f"{self.log_tail()}"
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
        # the group may outlive its leader (kedro-viz's server child): make sure it is gone
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)


def _is_json_with(key: str) -> Callable[[bytes], bool]:
    def accept(body: bytes) -> bool:
        try:
            return key in json.loads(body)
        except ValueError:
            return False

    return accept


def latest_run(tracking_uri: str, experiment: str) -> tuple[str, str, list[str]]:
    """(experiment id, run id, metric names) of the experiment's latest finished run with metrics."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        raise SystemExit(f"No MLflow experiment {experiment!r} in {tracking_uri}: run `make run`")
    runs = client.search_runs(
        [found.experiment_id],
        filter_string="attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=50,
    )
    for run in runs:
        if run.data.metrics:
            return found.experiment_id, run.info.run_id, sorted(run.data.metrics)
    raise SystemExit(f"No finished run with metrics in experiment {experiment!r}: run `make run`")


def experiment_name() -> str:
    """The experiment kedro-mlflow logs to (conf/base/mlflow.yml)."""
    import yaml

    conf = yaml.safe_load((PROJECT_ROOT / "conf" / "base" / "mlflow.yml").read_text())
    return conf["tracking"]["experiment"]["name"]


def _local_storage_script(items: dict[str, Any]) -> str:
    return "".join(
        f"localStorage.setItem({json.dumps(key)}, {json.dumps(json.dumps(value))});"
        for key, value in items.items()
    )


# kedro-viz drew the graph: how many nodes and where its zoom-to-fit put them (null while none);
# the value holds still once the zoom animation ends.
KEDRO_VIZ_DRAWN = """(() => {
  const nodes = document.querySelectorAll('.pipeline-node').length;
  const graph = document.querySelector('.pipeline-flowchart__graph');
  return nodes && graph ? nodes + ' ' + graph.getAttribute('transform') : null;
})()"""


def shoot_docs(args: argparse.Namespace) -> int:
    html: Path = args.dashboard
    missing = [str(p) for p in (html, args.mlflow_db) if not p.exists()]
    if missing:
        print(
            f"Missing {', '.join(missing)}: the screenshots need a lakehouse built by "
            "`make run` (the whole job on the bundled sample) first.",
            file=sys.stderr,
        )
        return 2
    find_chromium()  # fail before starting any server
    from importlib.metadata import version

    viz_version = version("kedro-viz")
    tracking_uri = f"sqlite:///{args.mlflow_db.resolve()}"
    experiment_id, run_id, metrics = latest_run(tracking_uri, args.experiment or experiment_name())
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    size = (args.width, args.height)

    with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory(prefix="shots-") as logs:
        # near each tool's usual port (kedro-viz 4141, MLflow 5000), past any already in use
        viz_port, mlflow_port = free_port(4141), free_port(5000)
        viz = Server(
            "kedro viz",
            [_venv_tool("kedro"), "viz", "run", "--no-browser", "--host", "127.0.0.1",
             "--port", str(viz_port)],
            f"http://127.0.0.1:{viz_port}",
            Path(logs),
        )  # fmt: skip
        stack.callback(viz.stop)
        mlflow_ui = Server(
            "mlflow ui",
            [_venv_tool("mlflow"), "ui", "--backend-store-uri", tracking_uri,
             "--default-artifact-root", str(PROJECT_ROOT / "mlartifacts"),
             "--host", "127.0.0.1", "--port", str(mlflow_port), "--workers", "1"],
            f"http://127.0.0.1:{mlflow_port}",
            Path(logs),
            # read-only visit: no background job runner (its consumers double the start-up)
            env={"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
        )  # fmt: skip
        stack.callback(mlflow_ui.stop)

        with browser(*size) as chromium:
            containers, drawn = shoot_dashboard(chromium, html, out / "dashboard.png")
            print(f"dashboard: {html} ({drawn} of {containers} charts drawn)")
            if containers == 0 or drawn < containers:
                raise SystemExit(f"{html}: not every chart rendered (plotly.js missing?)")

            viz.wait_until_ready("/api/main", _is_json_with("nodes"), args.server_timeout)
            chromium.before_each_page(_local_storage_script({"KedroViz": KEDRO_VIZ_SETTINGS}))
            chromium.answer_requests(
                KEDRO_VIZ_VERSION_PATTERN,
                {"installed": viz_version, "is_outdated": False, "latest": viz_version},
            )
            chromium.navigate(f"{viz.url}/?pid=__default__")
            chromium.wait_for(
                KEDRO_VIZ_DRAWN,
                args.page_timeout,
                "kedro-viz to draw the pipeline",
                settle=2.0,
            )
            chromium.screenshot(out / "lineage.png")
            print(f"lineage: {viz.url}")

            mlflow_ui.wait_until_ready("/health", lambda body: True, args.server_timeout)
            chromium.before_each_page(_local_storage_script(MLFLOW_UI_SETTINGS))
            url = f"{mlflow_ui.url}/#/experiments/{experiment_id}/runs/{run_id}"
            chromium.navigate(url)
            # the run's id, the metrics heading with their count, and at least one metric row
            shown = json.dumps([run_id, f"Metrics ({len(metrics)})"])
            chromium.wait_for(
                f"{shown}.every(text => document.body.innerText.includes(text))"
                f" && {json.dumps(metrics)}.some(m => document.body.innerText.includes(m))",
                args.page_timeout,
                "the MLflow run page to list the run's metrics",
                settle=1.5,
            )
            chromium.screenshot(out / "mlflow.png")
            print(f"mlflow: {url} ({len(metrics)} metrics)")

    failed = 0
    for name in DOC_IMAGES:
        png = out / name
        if is_blank(png):
            print(f"{png} is blank", file=sys.stderr)
            failed = 1
            continue
        optimise_png(png)
        print(f"Screenshot: {png} ({png.stat().st_size / 1024:.0f} KB)")
    return failed


def check_dashboard(args: argparse.Namespace) -> int:
    if not args.html.exists():
        raise SystemExit(f"{args.html} not found: run `kedro run --pipeline reporting` first")
    with browser(args.width, args.height) as chromium:
        containers, drawn = shoot_dashboard(chromium, args.html, args.png, full_page=True)
    print(f"Screenshot: {args.png} ({args.png.stat().st_size / 1024:.0f} KB)")
    if args.check:
        print(f"Charts rendered: {drawn} of {containers}")
        if containers == 0 or drawn < containers:
            print("Not every chart rendered (plotly.js missing or failing?)", file=sys.stderr)
            return 1
        if is_blank(args.png):
            print(f"{args.png} is blank", file=sys.stderr)
            return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in {"docs", "dashboard", "-h", "--help"}:
        argv.insert(0, "docs")
    # conf/base/globals.yml: NYC_LAKEHOUSE_DATA_ROOT moves the lakehouse, relative to the project
    data_root = PROJECT_ROOT / os.environ.get("NYC_LAKEHOUSE_DATA_ROOT", "data")
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)

    docs = commands.add_parser("docs", help="dashboard.png, lineage.png, mlflow.png (default)")
    docs.add_argument("--out", type=Path, default=PROJECT_ROOT / "docs" / "images")
    docs.add_argument("--dashboard", type=Path, default=data_root / "reporting" / "dashboard.html")
    docs.add_argument("--mlflow-db", type=Path, default=PROJECT_ROOT / "mlflow.db")
    docs.add_argument("--experiment", help="MLflow experiment (default: conf/base/mlflow.yml)")
    docs.add_argument("--width", type=int, default=1400)
    docs.add_argument("--height", type=int, default=900)
    docs.add_argument("--server-timeout", type=float, default=180, help="seconds per server")
    docs.add_argument("--page-timeout", type=float, default=60, help="seconds per page")
    docs.set_defaults(run=shoot_docs)

    dashboard = commands.add_parser("dashboard", help="render one dashboard page (--check)")
    dashboard.add_argument(
        "html", nargs="?", default=data_root / "reporting" / "dashboard.html", type=Path
    )
    dashboard.add_argument(
        "png", nargs="?", default=data_root / "reporting" / "dashboard.png", type=Path
    )
    dashboard.add_argument("--width", type=int, default=1400)
    dashboard.add_argument("--height", type=int, default=900)
    dashboard.add_argument("--check", action="store_true", help="fail unless every chart drew")
    dashboard.set_defaults(run=check_dashboard)

    args = parser.parse_args(argv)
    # SIGTERM (a CI timeout, `kill`) unwinds like Ctrl-C, so the servers are stopped
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
