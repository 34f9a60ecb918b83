"""A machine enrolled by auto-discovery in the console: marked "discovered" in the Machines
list (with its filter) and on its page, and "Enroll with BMC credentials": the recorded BMC
address plus the typed credentials become driver_info, then manage runs against a real
(tiny, in-test) Redfish service on loopback until the node is manageable. Errors inline,
the password never echoed."""

import base64
import html
import http.server
import json
import threading

import pytest
import requests

from test_forms import fault, form_tokens

PASSWORD = "pw-Sekr1t-never-shown"


def page_text(r):
    """A full page's text, entities decoded (askama escapes quotes)."""
    return html.unescape(r.text)


@pytest.fixture(scope="module")
def server(start_server):
    """This module's ironbox enrolls unknown machines (with fake-hardware)."""
    return start_server(extra_config='\n[auto_discovery]\nenabled = true\ndriver = "fake-hardware"\n')


def seed_discovered(server, api, name, inventory):
    """A machine discovered the real way: its ramdisk's continue_inspection from an unknown
    MAC enrolls it (enroll, plugin_data and driver_internal_info auto_discovered)."""
    r = requests.post(f"{server.url}/v1/continue_inspection", json={"inventory": inventory})
    assert r.status_code == 202, r.text
    uuid = r.json()["uuid"]
    api.patch(f"/v1/nodes/{uuid}", [{"op": "add", "path": "/name", "value": name}])
    n = api.get(f"/v1/nodes/{uuid}")
    assert n["provision_state"] == "enroll" and n["driver_internal_info"]["auto_discovered"]
    return uuid


def inventory(mac, bmc):
    inv = {
        "interfaces": [{"name": "eth0", "mac_address": mac}],
        "cpu": {"architecture": "x86_64", "count": 2},
        "memory": {"physical_mb": 1024},
        "disks": [{"name": "/dev/vda", "size": 10737418240}],
    }
    if bmc:
        inv["bmc_address"] = bmc
    return inv


class Redfish:
    """One ComputerSystem, powered off, behind HTTP basic auth; records what it was sent."""

    def __init__(self, user, password, host):
        self.auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.seen = []
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                outer.seen.append((self.path, self.headers.get("Authorization")))
                if self.headers.get("Authorization") != outer.auth:
                    return self.answer(401, {"error": {"message": "bad credentials"}})
                path = self.path.rstrip("/")
                body = {
                    "/redfish/v1": {"Systems": {"@odata.id": "/redfish/v1/Systems"}},
                    "/redfish/v1/Systems": {"Members": [{"@odata.id": "/redfish/v1/Systems/1"}]},
                    "/redfish/v1/Systems/1": {"Id": "1", "PowerState": "Off"},
                }.get(path)
                self.answer(200 if body else 404, body or {})

            def answer(self, code, body):
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = http.server.ThreadingHTTPServer((host, 0), H)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def redfish_at():
    """A Redfish service on a loopback address of the test's choosing (each discovered
    machine needs its own BMC address: discovery recognises machines by it)."""
    started = []

    def start(host):
        started.append(Redfish("admin", PASSWORD, host))
        return started[-1]

    yield start
    for r in started:
        r.close()


def test_discovered_machines_are_marked_and_filtered(page, server, base_url, api, shot):
    found = seed_discovered(server, api, "disc-found-1",
                            inventory("52:54:00:d1:00:01", bmc="127.0.0.11"))
    by_hand = api.create_node(name="disc-by-hand-1")["uuid"]
    page.goto(base_url + "/ui/machines")
    row = page.locator(f"#node-{found}")
    assert row.locator(".badge.discovered").inner_text() == "discovered"
    assert page.locator(f"#node-{by_hand} .badge.discovered").count() == 0
    page.select_option("select[name=discovered]", "yes")
    page.locator("form.filters button[type=submit]").click()
    page.wait_for_function("location.search.includes('discovered=yes')")
    page.wait_for_selector("select[name=discovered] option[value=yes][selected]", state="attached")
    names = page.locator("#machine-rows td.name a").all_inner_texts()
    assert any("disc-found-1" in n for n in names) and not any("disc-by-hand" in n for n in names)
    shot(page, "machines_discovered_filter")
    page.goto(base_url + "/ui/machines?discovered=no")
    names = page.locator("#machine-rows td.name a").all_inner_texts()
    assert any("disc-by-hand-1" in n for n in names) and not any("disc-found" in n for n in names)
    r = requests.get(base_url + "/ui/machines?discovered=maybe")
    assert r.status_code == 400
    assert fault(r) == 'Invalid discovered filter "maybe": expected yes or no.'
    # A node enrolled by hand is not offered the form.
    page.goto(f"{base_url}/ui/machines/{by_hand}")
    assert page.locator("#machine-header .badge.discovered").count() == 0
    assert page.locator('#machine-header [data-verb="enroll-bmc"]').count() == 0


def test_enroll_with_bmc_credentials_reaches_manageable(page, server, base_url, api, redfish_at,
                                                        shot):
    redfish = redfish_at("127.0.0.2")
    uuid = seed_discovered(server, api, "disc-bmc-1",
                           inventory("52:54:00:d1:00:02", bmc="127.0.0.2"))
    page.goto(f"{base_url}/ui/machines/{uuid}")
    assert page.locator("#machine-header .badge.discovered").inner_text() == "discovered"
    page.locator('#machine-header [data-verb="enroll-bmc"]').click()
    page.wait_for_url(f"**/ui/machines/{uuid}/bmc")
    page.wait_for_function("typeof htmx === 'object'")
    assert page.locator("#bmc-address").inner_text() == "127.0.0.2"
    drivers = page.locator("#driver option").all_inner_texts()
    assert drivers == ["ipmi", "redfish"], drivers
    # A bad port first: shown at its field, nothing changed, the password not sent back.
    page.select_option("#driver", "redfish")
    page.fill("#bmc_username", "admin")
    page.fill("#bmc_password", PASSWORD)
    page.fill("#bmc_port", "99999")
    page.select_option("#redfish_scheme", "http")
    page.click("#bmc-submit")
    err = page.locator('.field-error[data-field="bmc_port"]')
    assert err.inner_text() == 'Invalid port "99999": a number from 1 to 65535.'
    assert page.locator("#bmc_password").input_value() == ""
    assert PASSWORD not in page.content()
    node = api.get(f"/v1/nodes/{uuid}")
    assert node["provision_state"] == "enroll" and node["driver"] == "fake-hardware"
    shot(page, "bmc_form_error")
    # Then the right values: driver_info set, manage verifies against the BMC.
    page.fill("#bmc_port", str(redfish.port))
    page.fill("#bmc_password", PASSWORD)
    page.click("#bmc-submit")
    page.wait_for_url(f"**/ui/machines/{uuid}")
    page.wait_for_selector('#machine-header[data-state="manageable"]', timeout=30_000)
    node = api.get(f"/v1/nodes/{uuid}")
    assert node["driver"] == "redfish"
    assert node["driver_info"]["redfish_address"] == f"http://127.0.0.2:{redfish.port}"
    assert node["driver_info"]["redfish_username"] == "admin"
    assert node["driver_info"]["redfish_password"] == "******"
    assert node["power_state"] == "power off"
    assert any(a == redfish.auth for _, a in redfish.seen), redfish.seen
    assert PASSWORD not in page.content()
    # The form is for enroll only: now it says why and refuses.
    page.goto(f"{base_url}/ui/machines/{uuid}/bmc")
    assert "manageable" in page.locator("#bmc-refusal").inner_text()
    shot(page, "bmc_enrolled_manageable")


def test_wrong_credentials_leave_it_in_enroll_with_the_reason(page, server, base_url, api,
                                                             redfish_at):
    redfish = redfish_at("127.0.0.3")
    uuid = seed_discovered(server, api, "disc-bmc-2",
                           inventory("52:54:00:d1:00:03", bmc="127.0.0.3"))
    csrf, nonce = form_tokens(base_url, f"/ui/machines/{uuid}/bmc")
    form = {"_csrf": csrf, "_nonce": nonce, "driver": "redfish", "bmc_username": "admin",
            "bmc_password": "wrong-" + PASSWORD, "bmc_port": str(redfish.port),
            "redfish_scheme": "http"}
    h = {"Origin": base_url}
    r = requests.post(f"{base_url}/ui/machines/{uuid}/bmc", data=form, headers=h,
                      allow_redirects=False)
    assert r.status_code == 303, r.text
    node = api.wait_for(uuid, provision_state="enroll", target_provision_state=None)
    assert node["last_error"] and "Failed to get power state" in node["last_error"]
    page.goto(f"{base_url}/ui/machines/{uuid}")
    assert "Failed to get power state" in page.locator("#machine-header .last-error").inner_text()
    assert PASSWORD not in page.content()
    # The same form again is a replay: refused, nothing done twice.
    again = requests.post(f"{base_url}/ui/machines/{uuid}/bmc", data=form, headers=h,
                          allow_redirects=False)
    assert again.status_code == 409 and "already submitted" in fault(again)


def test_refusals_change_nothing(base_url, server, api):
    h = {"Origin": base_url}
    # No BMC address recorded: 409, driver_info untouched.
    uuid = seed_discovered(server, api, "disc-nobmc", inventory("52:54:00:d1:00:04", bmc=None))
    csrf, nonce = form_tokens(base_url, f"/ui/machines/{uuid}/bmc")
    r = requests.post(f"{base_url}/ui/machines/{uuid}/bmc", headers=h, allow_redirects=False,
                      data={"_csrf": csrf, "_nonce": nonce, "driver": "ipmi",
                            "bmc_password": PASSWORD})
    assert r.status_code == 409 and "recorded no BMC address" in page_text(r)
    assert PASSWORD not in r.text
    node = api.get(f"/v1/nodes/{uuid}")
    assert node["driver_info"] == {} and node["driver"] == "fake-hardware"
    # A node enrolled by hand: 409.
    by_hand = api.create_node(name="disc-by-hand-2")["uuid"]
    csrf, nonce = form_tokens(base_url, f"/ui/machines/{by_hand}/bmc")
    r = requests.post(f"{base_url}/ui/machines/{by_hand}/bmc", headers=h, allow_redirects=False,
                      data={"_csrf": csrf, "_nonce": nonce, "driver": "ipmi"})
    assert r.status_code == 409 and "not enrolled by auto-discovery" in page_text(r)
    # A driver the form does not fill, an unknown field, no CSRF token.
    uuid = seed_discovered(server, api, "disc-bmc-3",
                           inventory("52:54:00:d1:00:05", bmc="127.0.0.5"))
    csrf, nonce = form_tokens(base_url, f"/ui/machines/{uuid}/bmc")
    r = requests.post(f"{base_url}/ui/machines/{uuid}/bmc", headers=h, allow_redirects=False,
                      data={"_csrf": csrf, "_nonce": nonce, "driver": "fake-hardware"})
    assert r.status_code == 400 and "takes the ipmi or redfish hardware type" in page_text(r)
    csrf, nonce = form_tokens(base_url, f"/ui/machines/{uuid}/bmc")
    r = requests.post(f"{base_url}/ui/machines/{uuid}/bmc", headers=h, allow_redirects=False,
                      data={"_csrf": csrf, "_nonce": nonce, "driver": "ipmi", "x": "1"})
    assert r.status_code == 400
    r = requests.post(f"{base_url}/ui/machines/{uuid}/bmc", headers=h, allow_redirects=False,
                      data={"_nonce": nonce, "driver": "ipmi"})
    assert r.status_code == 403
    node = api.get(f"/v1/nodes/{uuid}")
    assert node["provision_state"] == "enroll" and node["driver_info"] == {}
    assert requests.get(f"{base_url}/ui/machines/nope/bmc").status_code == 404
