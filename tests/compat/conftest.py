"""Client-compatibility test harness for an Ironic (Bare Metal) API server.

The suite drives a running server with the *real* clients:

* the ``baremetal`` CLI (python-ironicclient's OpenStackClient plugin),
  run as a subprocess with ``-f json`` so that its output can be parsed;
* openstacksdk (``openstack.connection.Connection``) in noauth mode.

The server under test is selected with the ``IRONIC_URL`` environment
variable, e.g. ``IRONIC_URL=http://127.0.0.1:6385``.  The server must run
with ``auth_strategy = noauth`` and expose the ``fake-hardware`` driver.

Optional environment variables:

``BAREMETAL_CLI``
    Path of the ``baremetal`` executable.  Defaults to the one next to the
    running Python interpreter (i.e. the test virtualenv), then ``$PATH``.
``COMPAT_CLI_TIMEOUT``
    Seconds after which a single CLI invocation is killed (default 120).
``COMPAT_TRACE``
    If set to a file path, every CLI call runs with ``--debug`` and its
    request/response log (curl-style REQ/RESP lines) is appended there --
    handy to see exactly which URLs, headers and bodies the CLI uses.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest

# Microversion used by the harness' own raw-HTTP cleanup calls.  Kept low on
# purpose: cleanup should work against any reasonably modern server.
_CLEANUP_MICROVERSION = "1.31"


# --------------------------------------------------------------------------
# configuration
# --------------------------------------------------------------------------

def _ironic_url():
    url = os.environ.get("IRONIC_URL")
    if not url:
        pytest.exit(
            "IRONIC_URL is not set (e.g. IRONIC_URL=http://127.0.0.1:6385)",
            returncode=4)
    return url.rstrip("/")


IRONIC_URL = None  # filled in by pytest_configure / pytest_sessionstart


def pytest_configure(config):
    global IRONIC_URL
    config.addinivalue_line(
        "markers",
        "conductor: needs a working conductor (provision state changes, "
        "power actions); deselect with -m 'not conductor'")
    if os.environ.get("IRONIC_URL"):
        IRONIC_URL = os.environ["IRONIC_URL"].rstrip("/")


def pytest_sessionstart(session):
    global IRONIC_URL
    IRONIC_URL = _ironic_url()
    if session.config.option.collectonly:
        return
    # Fail fast: against a dead endpoint every CLI call would sit through
    # python-ironicclient's connection retries (5 x 2 s).
    try:
        with urllib.request.urlopen(IRONIC_URL + "/", timeout=10) as resp:
            resp.read()
    except urllib.error.HTTPError:
        pass  # it answers; the tests will judge the answer
    except Exception as e:
        pytest.exit("cannot reach IRONIC_URL=%s: %s" % (IRONIC_URL, e),
                    returncode=4)


def _find_cli():
    explicit = os.environ.get("BAREMETAL_CLI")
    if explicit:
        return explicit
    beside = os.path.join(os.path.dirname(sys.executable), "baremetal")
    if os.path.exists(beside):
        return beside
    found = shutil.which("baremetal")
    if not found:
        pytest.exit("cannot find the 'baremetal' CLI; set BAREMETAL_CLI",
                    returncode=4)
    return found


# A private cache dir: python-ironicclient caches the negotiated microversion
# per host:port (for 5 minutes) under $XDG_CACHE_HOME.  Without isolation a
# version negotiated against one server would be reused for another server
# started later on the same port.
_CACHE_DIR = tempfile.mkdtemp(prefix="ironbox-compat-cache-")


def _cli_env():
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("OS_")}  # no stray clouds.yaml / credentials
    env["XDG_CACHE_HOME"] = _CACHE_DIR
    env["HOME"] = env.get("HOME", _CACHE_DIR)
    env["PYTHONWARNINGS"] = "ignore"
    return env


# --------------------------------------------------------------------------
# CLI helpers
# --------------------------------------------------------------------------

class CLIError(AssertionError):
    def __init__(self, args, proc):
        self.proc = proc
        super().__init__(
            "command failed (rc=%s): baremetal %s\n--- stdout\n%s\n--- stderr\n%s"
            % (proc.returncode, " ".join(args), proc.stdout, proc.stderr))


# Sub-commands whose output is a table/record (and thus accept -f json).
_OUTPUT_VERBS = {"create", "show", "list", "validate"}


def _wants_json(args):
    for a in args[:3]:
        if a.startswith("-"):
            break
        if a in _OUTPUT_VERBS:
            return True
    return False


def run_cli(*args, api_version="latest", max_retries=None, fmt=None):
    """Run ``baremetal <args>`` against IRONIC_URL; return CompletedProcess.

    ``fmt`` defaults to ``json`` for commands that print a table/record.
    ``api_version=None`` omits ``--os-baremetal-api-version`` entirely.
    """
    args = [str(a) for a in args]
    cmd = [_find_cli(),
           "--os-auth-type", "none",
           "--os-endpoint", IRONIC_URL]
    if api_version is not None:
        # NB: an explicit "latest" makes the client GET /v1 first and use
        # the advertised maximum; with no flag at all it sends its own
        # maximum (1.115 for python-ironicclient 6.3) and relies on a 406
        # + version headers to negotiate down.
        cmd += ["--os-baremetal-api-version", api_version]
    if max_retries is not None:
        cmd += ["--max-retries", str(max_retries)]
    trace = os.environ.get("COMPAT_TRACE")
    if trace:
        cmd += ["--debug"]
    cmd += args
    if fmt is None and _wants_json(args):
        fmt = "json"
    if fmt:
        cmd += ["-f", fmt]
    timeout = float(os.environ.get("COMPAT_CLI_TIMEOUT", "120"))
    proc = subprocess.run(cmd, capture_output=True, text=True,
                          env=_cli_env(), timeout=timeout,
                          stdin=subprocess.DEVNULL)
    if trace:
        lines = [ln for ln in proc.stderr.splitlines()
                 if "REQ:" in ln or "RESP" in ln]
        with open(trace, "a") as f:
            f.write("### baremetal %s  (rc=%s)\n%s\n\n" % (
                " ".join(args), proc.returncode, "\n".join(lines)))
        # keep the human-readable error (the last stderr line) for asserts
        proc.stderr = "\n".join(
            ln for ln in proc.stderr.splitlines()
            if " DEBUG: " not in ln and not ln.startswith("  "))
    return proc


def bm(*args, api_version="latest"):
    """Run the CLI, expect success; return parsed JSON output (or None)."""
    proc = run_cli(*args, api_version=api_version)
    if proc.returncode != 0:
        raise CLIError(args, proc)
    out = proc.stdout.strip()
    if not out:
        return None
    if _wants_json([str(a) for a in args]):
        try:
            return json.loads(out)
        except ValueError:
            raise AssertionError("CLI output is not JSON: baremetal %s\n%s"
                                 % (" ".join(map(str, args)), out))
    return out


def bm_fail(*args, api_version="latest"):
    """Run the CLI, expect a non-zero exit; return stderr (+ stdout)."""
    # --max-retries 0: ironicclient retries 409/503 responses 5 times with a
    # 2 s pause by default, which only slows down expected failures.
    proc = run_cli(*args, api_version=api_version, max_retries=0)
    if proc.returncode == 0:
        raise AssertionError(
            "command unexpectedly succeeded: baremetal %s\n%s"
            % (" ".join(map(str, args)), proc.stdout))
    return proc.stderr + proc.stdout


# --------------------------------------------------------------------------
# raw HTTP (harness only: cleanup + a couple of protocol checks)
# --------------------------------------------------------------------------

def http(method, path, body=None, microversion=_CLEANUP_MICROVERSION,
         headers=None):
    """Tiny raw HTTP client; returns (status, headers, parsed-json-or-text)."""
    url = IRONIC_URL + path
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Accept", "application/json")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if microversion:
        req.add_header("X-OpenStack-Ironic-API-Version", microversion)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            status, hdrs, raw = resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        status, hdrs, raw = e.code, e.headers, e.read()
    text = raw.decode("utf-8", "replace")
    try:
        payload = json.loads(text) if text else None
    except ValueError:
        payload = text
    return status, hdrs, payload


def _q(ident):
    return urllib.parse.quote(str(ident), safe="")


# --------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------

@pytest.fixture(scope="session")
def ironic_url():
    return IRONIC_URL


@pytest.fixture
def uniq():
    """Factory of unique, hostname-safe resource names."""
    def make(prefix="cmp"):
        return "cmp-%s-%s" % (prefix, uuid.uuid4().hex[:10])
    return make


def random_mac():
    # locally administered, unicast
    b = uuid.uuid4().bytes[:5]
    return "52:" + ":".join("%02x" % x for x in b)


@pytest.fixture
def mac():
    return random_mac


class Cleanup:
    """Records created resources; deletes them (children first) on teardown.

    Resources may be registered *before* they are created (by name or
    address) so that a half-finished test still leaves nothing behind.
    """

    ORDER = ("port", "portgroup", "node", "chassis")

    def __init__(self):
        self.items = {k: [] for k in self.ORDER}

    def add(self, kind, ident):
        self.items[kind].append(ident)
        return ident

    def node(self, ident):
        return self.add("node", ident)

    def port(self, ident):  # uuid or MAC address
        return self.add("port", ident)

    def portgroup(self, ident):
        return self.add("portgroup", ident)

    def chassis(self, ident):
        return self.add("chassis", ident)

    def run(self):
        errors = []
        for kind in self.ORDER:
            for ident in reversed(self.items[kind]):
                try:
                    self._delete(kind, ident)
                except Exception as e:  # pragma: no cover - reported below
                    errors.append("%s %s: %s" % (kind, ident, e))
        return errors

    def _delete(self, kind, ident):
        if kind == "port" and ":" in str(ident):  # registered by MAC
            st, _, body = http("GET", "/v1/ports?address=%s" % _q(ident))
            for p in (body or {}).get("ports", []) if st == 200 else []:
                self._delete("port", p["uuid"])
            return
        path = {"node": "/v1/nodes/", "port": "/v1/ports/",
                "portgroup": "/v1/portgroups/",
                "chassis": "/v1/chassis/"}[kind] + _q(ident)
        deadline = time.monotonic() + 20
        while True:
            st, _, body = http("DELETE", path)
            # 409: node locked by the conductor (e.g. a state transition
            # still finishing) -- retry for a little while
            if st == 409 and time.monotonic() < deadline:
                time.sleep(1)
                continue
            break
        if st not in (200, 202, 204, 404):
            raise RuntimeError("DELETE %s -> %s %s" % (path, st, body))


@pytest.fixture
def cleanup():
    c = Cleanup()
    yield c
    errors = c.run()
    assert not errors, "cleanup failed: %s" % errors


@pytest.fixture
def make_node(cleanup, uniq):
    """Create a node with the CLI; returns the parsed ``node create`` JSON."""
    def make(*extra, name=None, driver="fake-hardware", api_version="latest"):
        name = name or uniq("node")
        cleanup.node(name)
        node = bm("node", "create", "--driver", driver, "--name", name,
                  *extra, api_version=api_version)
        cleanup.node(node["uuid"])
        return node
    return make


@pytest.fixture
def make_chassis(cleanup, uniq):
    def make(*extra, description=None):
        ch = bm("chassis", "create",
                "--description", description or uniq("chassis"), *extra)
        cleanup.chassis(ch["uuid"])
        return ch
    return make


def make_sdk(**overrides):
    """An openstacksdk Connection talking to IRONIC_URL without auth.

    noauth recipe: ``auth_type="none"`` plus ``baremetal_endpoint_override``
    (no clouds.yaml, no Keystone).  The SDK then does version discovery
    with GET <endpoint>/ and GET <endpoint>/v1/.
    """
    import openstack.connection
    kwargs = dict(auth_type="none", baremetal_endpoint_override=IRONIC_URL)
    kwargs.update(overrides)
    return openstack.connection.Connection(**kwargs)


@pytest.fixture
def sdk():
    conn = make_sdk()
    yield conn
    conn.close()
