"""Browser tests of ironbox's operator console (/ui/).

Every test module gets a real ironbox (the debug binary, ``target/debug/ironbox`` or
``$IRONBOX_BIN``) started on an ephemeral loopback port with a temp state dir and the
fake-hardware driver, and Debian's chromium (``/usr/bin/chromium`` or ``$CHROMIUM``)
driven headless by Playwright (never ``playwright install``).

Fixtures:
  ``server``      the module's noauth ironbox (``.url``, ``.state_dir``, ``.log()``)
  ``base_url``    its URL (``http://127.0.0.1:PORT``)
  ``api``         a JSON client for its Bare Metal API (``api.get/post/patch/put/delete``,
                  ``api.create_node(**fields)``, ``api.wait_for(uuid, provision_state=…)``)
  ``page``        a fresh browser page; on teardown a screenshot goes to
                  ``tests/ui/screenshots/<test name>.png``, and the test fails if the page
                  logged a Content-Security-Policy violation or a JS error
  ``start_server``  factory for another ironbox (``start_server(auth="http_basic",
                  users={"admin": "pw"})``), stopped at module end
  ``shot(page, name)``  an extra named screenshot
"""

import json
import os
import pathlib
import re
import signal
import subprocess
import tempfile
import time

import pytest
import requests

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCREENSHOTS = pathlib.Path(__file__).resolve().parent / "screenshots"
BINARY = pathlib.Path(os.environ.get("IRONBOX_BIN", ROOT / "target" / "debug" / "ironbox"))
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
API_VERSION = "latest"


class Server:
    """One ironbox process with its own state dir, stopped by ``stop()``."""

    def __init__(self, auth="noauth", users=None, extra_config=""):
        if not BINARY.exists():
            pytest.exit(f"{BINARY} not found: run `cargo build` first", returncode=4)
        self.dir = tempfile.TemporaryDirectory(prefix="ironbox-ui-")
        self.state_dir = pathlib.Path(self.dir.name) / "data"
        cfg = [
            "[DEFAULT]",
            f'state_path = "{self.state_dir}"',
            'host = "ironbox-ui-test"',
            f'auth_strategy = "{auth}"',
        ]
        if auth == "http_basic":
            import bcrypt

            htpasswd = pathlib.Path(self.dir.name) / "htpasswd"
            htpasswd.write_text(
                "".join(
                    f"{u}:{bcrypt.hashpw(p.encode(), bcrypt.gensalt(rounds=4)).decode()}\n"
                    for u, p in (users or {}).items()
                )
            )
            cfg.append(f'http_basic_auth_user_file = "{htpasswd}"')
        cfg += ["[api]", 'host_ip = "127.0.0.1"', "port = 0", extra_config]
        self.config = pathlib.Path(self.dir.name) / "ironic.toml"
        self.config.write_text("\n".join(cfg) + "\n")
        self.log_path = pathlib.Path(self.dir.name) / "ironbox.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [str(BINARY), "serve", "--config", str(self.config)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        endpoints = self.state_dir / "endpoints.json"
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ironbox exited early:\n{self.log()}")
            try:
                self.url = json.loads(endpoints.read_text())["api"].rstrip("/")
                break
            except (OSError, ValueError, KeyError):
                time.sleep(0.1)
        else:
            self.stop()
            raise RuntimeError(f"ironbox did not announce its API:\n{self.log()}")

    def log(self):
        return self.log_path.read_text(errors="replace")[-5000:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        self.dir.cleanup()


class Api:
    """The Bare Metal API as JSON (latest microversion unless told)."""

    def __init__(self, url, auth=None):
        self.url = url
        self.s = requests.Session()
        self.s.headers["X-OpenStack-Ironic-API-Version"] = API_VERSION
        self.s.headers["Accept"] = "application/json"
        if auth:
            self.s.auth = auth

    def _call(self, method, path, expect, **kw):
        r = self.s.request(method, self.url + path, timeout=30, **kw)
        if expect is not None and r.status_code != expect:
            raise AssertionError(f"{method} {path}: {r.status_code} {r.text}")
        return r.json() if r.content and "json" in r.headers.get("content-type", "") else r

    def get(self, path, expect=200, **kw):
        return self._call("GET", path, expect, **kw)

    def post(self, path, body, expect=201, **kw):
        return self._call("POST", path, expect, json=body, **kw)

    def patch(self, path, ops, expect=200, **kw):
        return self._call("PATCH", path, expect, json=ops, **kw)

    def put(self, path, body, expect=202, **kw):
        return self._call("PUT", path, expect, json=body, **kw)

    def delete(self, path, expect=204, **kw):
        return self._call("DELETE", path, expect, **kw)

    def create_node(self, **fields):
        body = {"driver": "fake-hardware"}
        body.update(fields)
        return self.post("/v1/nodes", body)

    def provision(self, node, target, **extra):
        body = {"target": target}
        body.update(extra)
        return self.put(f"/v1/nodes/{node}/states/provision", body)

    def wait_for(self, node, timeout=60, **want):
        """Poll the node until every field in ``want`` has its value; returns the node."""
        deadline = time.time() + timeout
        while True:
            n = self.get(f"/v1/nodes/{node}")
            if all(n.get(k) == v for k, v in want.items()):
                return n
            if time.time() > deadline:
                raise AssertionError(f"node {node}: wanted {want}, have "
                                     f"{ {k: n.get(k) for k in want} }")
            time.sleep(0.2)


def _name(request):
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)[:120]


@pytest.fixture(scope="module")
def start_server():
    started = []

    def start(**kw):
        s = Server(**kw)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


@pytest.fixture(scope="module")
def server(start_server):
    return start_server()


@pytest.fixture(scope="module")
def base_url(server):
    return server.url


@pytest.fixture(scope="module")
def api(server):
    return Api(server.url)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not pathlib.Path(CHROMIUM).exists():
        pytest.exit(f"{CHROMIUM} not found: apt-get install -y chromium", returncode=4)
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            # Root in a container: chromium's sandbox needs user namespaces it may not have.
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        yield b
        b.close()


@pytest.fixture
def page(browser, request):
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    pg = ctx.new_page()
    pg.set_default_timeout(10_000)
    problems = []
    pg.on("console", lambda m: problems.append(m.text)
          if m.type == "error" and "Content Security Policy" in m.text else None)
    pg.on("pageerror", lambda e: problems.append(f"JS error: {e}"))
    pg.problems = problems
    yield pg
    SCREENSHOTS.mkdir(exist_ok=True)
    try:
        pg.screenshot(path=str(SCREENSHOTS / f"{_name(request)}.png"), full_page=True)
    finally:
        ctx.close()
    assert not problems, f"the page reported: {problems}"


@pytest.fixture
def shot():
    def take(pg, name):
        SCREENSHOTS.mkdir(exist_ok=True)
        pg.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    return take
