"""The serial console in the browser: a fake-hardware node's console enabled with the
button, its fake boot log read in xterm.js, typing echoed, a second tab sharing the session
(with the replay), the WebSocket refused from another origin, and disabling it."""

import base64
import os
import socket
import time
from urllib.parse import urlparse

from playwright.sync_api import expect


def screen(pg, timeout=20, want=None):
    """The terminal's visible text (xterm's DOM renderer), once it contains ``want``."""
    deadline = time.time() + timeout
    while True:
        text = pg.locator(".xterm-rows").inner_text()
        if want is None or want in text:
            return text
        if time.time() > deadline:
            raise AssertionError(f"terminal never showed {want!r}:\n{text}")
        time.sleep(0.2)


def handshake(base_url, path, origin):
    """Send a WebSocket upgrade with this Origin; the status code of the answer."""
    u = urlparse(base_url)
    key = base64.b64encode(os.urandom(16)).decode()
    req = (f"GET {path} HTTP/1.1\r\nHost: {u.netloc}\r\nUpgrade: websocket\r\n"
           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
           f"Sec-WebSocket-Version: 13\r\nOrigin: {origin}\r\n\r\n")
    with socket.create_connection((u.hostname, u.port), timeout=10) as s:
        s.sendall(req.encode())
        status = s.recv(4096).split(b"\r\n", 1)[0].decode()
    return int(status.split()[1])


def test_fake_console_in_the_browser(page, base_url, api, shot):
    node = api.create_node(name="web-con", console_interface="fake")["uuid"]
    page.goto(f"{base_url}/ui/machines/{node}/console")
    page.get_by_role("button", name="Enable console").click()
    page.wait_for_selector(".xterm-rows")
    assert api.get(f"/v1/nodes/{node}/states/console") == {
        "console_enabled": True,
        "console_info": {"type": "web", "url": f"{base_url}/ui/machines/{node}/console"},
    }
    text = screen(page, want="web-con login:")
    assert "Linux version" in text or "Started" in text, text
    page.locator(".console-panel .console-term").click()
    page.keyboard.type("root")
    page.keyboard.press("Enter")
    text = screen(page, want="Login incorrect")
    assert "login: root" in text, text
    assert page.locator("[data-console-status]").inner_text() == "connected"
    shot(page, "console")

    # A second tab is one more viewer of the same session: the replay shows what the first
    # typed, and what it types shows in the first.
    other = page.context.new_page()
    other.goto(f"{base_url}/ui/machines/{node}/console")
    assert "Login incorrect" in screen(other, want="Login incorrect")
    other.locator(".console-panel .console-term").click()
    other.keyboard.type("admin")
    assert "admin" in screen(page, want="admin")

    # The WebSocket is for this origin's pages only.
    ws = f"/ui/machines/{node}/console/ws"
    assert handshake(base_url, ws, "http://evil.example") == 403
    assert handshake(base_url, ws, base_url) == 101

    # Disable from the page: back to the button, and the other tab is told.
    page.get_by_role("button", name="Disable console").click()
    page.get_by_role("button", name="Enable console").wait_for()
    expect(other.locator("[data-console-status]")).to_have_text("console disabled")
    assert api.get(f"/v1/nodes/{node}/states/console")["console_enabled"] is False
    other.close()


def test_a_node_without_a_console_says_so(page, base_url, api):
    node = api.create_node(name="no-con", console_interface="no-console")["uuid"]
    page.goto(f"{base_url}/ui/machines/{node}/console")
    assert "has no console interface" in page.locator(".console-panel").inner_text()
    assert page.get_by_role("button", name="Enable console").count() == 0


def test_the_websocket_needs_a_session_under_http_basic(start_server):
    srv = start_server(auth="http_basic", users={"admin": "pw"})
    from conftest import Api

    api = Api(srv.url, auth=("admin", "pw"))
    node = api.create_node(console_interface="fake")["uuid"]
    api.put(f"/v1/nodes/{node}/states/console", {"enabled": True})
    # No session cookie: sent to the login page, never upgraded.
    assert handshake(srv.url, f"/ui/machines/{node}/console/ws", srv.url) == 303
