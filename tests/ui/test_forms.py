"""The Enroll and Deploy forms in Chromium: what they create, Ironic's errors inline,
double submits, CSRF, escaping, and a fake-hardware deploy to active."""

import hashlib
import http.server
import json
import re
import threading

import pytest
import requests

MAC1, MAC2 = "52:54:00:aa:00:01", "52:54:00:aa:00:02"


def nodes_named(api, name):
    return [n for n in api.get("/v1/nodes?detail=true")["nodes"] if n["name"] == name]


def ports_of(api, uuid):
    return sorted(p["address"] for p in api.get(f"/v1/nodes/{uuid}/ports")["ports"])


def fault(resp):
    """The faultstring of an Ironic error body."""
    return json.loads(resp.json()["error_message"])["faultstring"]


def form_tokens(base_url, path):
    """A fresh form's CSRF token and nonce, as a browser would get them."""
    html = requests.get(base_url + path).text
    csrf = re.search(r'data-csrf="([0-9a-f]+)"', html).group(1)
    nonce = re.search(r'name="_nonce" value="([0-9a-f]+)"', html).group(1)
    return csrf, nonce


def open_enroll(page, base_url):
    page.goto(base_url + "/ui/enroll")
    page.wait_for_function("typeof htmx === 'object'")


def test_enroll_fake_hardware_with_two_macs(page, base_url, api, shot):
    # The Machines list open in another tab, its live stream connected.
    machines = page.context.new_page()
    machines.goto(base_url + "/ui/machines")
    machines.evaluate("window.__not_reloaded = true")
    machines.wait_for_function(
        "() => document.querySelector('[sse-connect]')['htmx-internal-data']"
        "?.sseEventSource?.readyState === 1")
    open_enroll(page, base_url)
    shot(page, "forms_enroll_empty")
    page.select_option("#driver", "fake-hardware")
    page.fill("#name", "form-node-1")
    page.fill("#macs", f"{MAC1}\n{MAC2.upper()}\n")
    page.fill("#cpus", "4")
    page.fill("#memory_mb", "8192")
    page.fill("#cpu_arch", "x86_64")
    page.fill("#resource_class", "baremetal-small")
    page.click("#enroll-submit")
    page.wait_for_url(re.compile(r".*/ui/machines/[0-9a-f-]{36}$"))
    uuid = page.url.rsplit("/", 1)[1]
    node = api.get(f"/v1/nodes/{uuid}")
    assert node["name"] == "form-node-1" and node["driver"] == "fake-hardware"
    assert node["provision_state"] == "enroll"
    assert node["properties"] == {"cpus": 4, "memory_mb": 8192, "cpu_arch": "x86_64"}
    assert node["resource_class"] == "baremetal-small"
    assert ports_of(api, uuid) == [MAC1, MAC2]
    # It appeared in the open list without a reload, with both MACs.
    row = machines.locator(f"#node-{uuid}")
    row.locator("td.macs", has_text=MAC2).wait_for()
    assert row.locator("td.name a").inner_text() == "form-node-1"
    assert MAC1 in row.locator("td.macs").inner_text()
    assert machines.evaluate("window.__not_reloaded === true")
    shot(machines, "forms_enrolled_node_in_live_list")


def test_bmc_fields_become_the_drivers_keys_and_the_password_stays_secret(base_url, api):
    csrf, nonce = form_tokens(base_url, "/ui/enroll")
    form = {"_csrf": csrf, "_nonce": nonce, "driver": "ipmi", "name": "ipmi-form",
            "bmc_address": "192.0.2.10", "bmc_port": "6230", "bmc_username": "admin",
            "bmc_password": "hunter2-secret"}
    r = requests.post(base_url + "/ui/enroll", data=form, headers={"Origin": base_url},
                      allow_redirects=False)
    if r.status_code == 400 and "ipmi" in r.text:
        pytest.skip("ipmi is not an enabled hardware type in this configuration")
    assert r.status_code == 303, r.text
    uuid = r.headers["Location"].rsplit("/", 1)[1]
    info = api.get(f"/v1/nodes/{uuid}")["driver_info"]
    assert info["ipmi_address"] == "192.0.2.10" and info["ipmi_port"] == "6230"
    assert info["ipmi_username"] == "admin" and info["ipmi_password"] == "******"
    # A refused form comes back without the password in it.
    csrf, nonce = form_tokens(base_url, "/ui/enroll")
    form.update(_nonce=nonce, name="ipmi-form-2", macs="not-a-mac")
    r = requests.post(base_url + "/ui/enroll", data=form, headers={"Origin": base_url})
    assert r.status_code == 400
    assert "hunter2-secret" not in r.text and 'value="192.0.2.10"' in r.text


def test_a_bad_mac_shows_the_port_apis_error_and_creates_nothing(page, base_url, api, shot):
    expected = fault(requests.post(
        base_url + "/v1/ports", json={"address": "52:54:00:zz:00:01",
                                      "node_uuid": "1be26c0b-03f2-4d2e-ae87-c02d7f33c123"},
        headers={"X-OpenStack-Ironic-API-Version": "latest"}))
    assert expected == "Expected valid MAC address for address: 52:54:00:zz:00:01"
    open_enroll(page, base_url)
    page.select_option("#driver", "fake-hardware")
    page.fill("#name", "bad-mac-node")
    page.fill("#macs", f"{MAC1.replace('aa', 'bb')}\n52:54:00:zz:00:01")
    page.fill("#cpus", "2")
    page.click("#enroll-submit")
    err = page.locator("p.field-error[data-field=macs]")
    err.wait_for()
    assert err.inner_text() == expected
    shot(page, "forms_enroll_bad_mac")
    # Values kept; nothing half-enrolled.
    assert page.input_value("#name") == "bad-mac-node"
    assert page.input_value("#cpus") == "2"
    assert nodes_named(api, "bad-mac-node") == []
    # Correct it in place and submit again: the fresh nonce lets it through once.
    page.fill("#macs", MAC1.replace("aa", "bb"))
    page.click("#enroll-submit")
    page.wait_for_url(re.compile(r".*/ui/machines/[0-9a-f-]{36}$"))
    assert len(nodes_named(api, "bad-mac-node")) == 1


def test_a_taken_mac_is_refused_before_the_node_is_created(base_url, api):
    csrf, nonce = form_tokens(base_url, "/ui/enroll")
    node = api.create_node(name="owner-of-mac")
    api.post("/v1/ports", {"address": "52:54:00:cc:00:01", "node_uuid": node["uuid"]})
    r = requests.post(base_url + "/ui/enroll", headers={"Origin": base_url}, data={
        "_csrf": csrf, "_nonce": nonce, "driver": "fake-hardware", "name": "mac-thief",
        "macs": "52:54:00:cc:00:02\n52:54:00:CC:00:01"})
    assert r.status_code == 409
    assert "A port with MAC address 52:54:00:cc:00:01 already exists." in r.text
    assert nodes_named(api, "mac-thief") == []


def test_an_unknown_driver_shows_the_node_apis_error(page, base_url, api, shot):
    expected = fault(requests.post(base_url + "/v1/nodes", json={"driver": "no-such-driver"},
                                   headers={"X-OpenStack-Ironic-API-Version": "latest"}))
    open_enroll(page, base_url)
    # A select offers only enabled types: a stale page or a hand-made request can still
    # name another.
    page.eval_on_selector("#driver", "s => { const o = document.createElement('option');"
                          " o.value = o.textContent = 'no-such-driver'; s.append(o); }")
    page.select_option("#driver", "no-such-driver")
    page.fill("#name", "driverless")
    page.fill("#macs", "52:54:00:dd:00:01")
    page.click("#enroll-submit")
    err = page.locator("p.field-error[data-field=driver]")
    err.wait_for()
    assert err.inner_text() == expected
    shot(page, "forms_enroll_unknown_driver")
    assert nodes_named(api, "driverless") == []
    assert api.get("/v1/ports?address=52:54:00:dd:00:01")["ports"] == []


def test_a_double_click_or_a_replay_creates_one_node(page, base_url, api):
    open_enroll(page, base_url)
    page.select_option("#driver", "fake-hardware")
    page.fill("#name", "clicked-twice")
    page.dblclick("#enroll-submit")
    page.wait_for_url(re.compile(r".*/ui/machines/[0-9a-f-]{36}$"))
    assert len(nodes_named(api, "clicked-twice")) == 1
    # The same POST sent twice (a replay, a retry): the nonce is spent by the first.
    csrf, nonce = form_tokens(base_url, "/ui/enroll")
    form = {"_csrf": csrf, "_nonce": nonce, "driver": "fake-hardware", "name": "replayed"}
    h = {"Origin": base_url}
    first = requests.post(base_url + "/ui/enroll", data=form, headers=h, allow_redirects=False)
    second = requests.post(base_url + "/ui/enroll", data=form, headers=h, allow_redirects=False)
    assert first.status_code == 303
    assert second.status_code == 409 and "already submitted" in fault(second)
    assert len(nodes_named(api, "replayed")) == 1


def test_cross_site_and_tokenless_posts_create_nothing(base_url, api):
    csrf, nonce = form_tokens(base_url, "/ui/enroll")
    form = {"_csrf": csrf, "_nonce": nonce, "driver": "fake-hardware", "name": "csrf-victim"}
    for headers, data, why in [
        ({"Origin": "http://evil.example"}, form, "another origin"),
        ({"Sec-Fetch-Site": "cross-site", "Origin": base_url}, form, "cross-site fetch"),
        ({}, form, "no origin at all"),
        ({"Origin": base_url}, {k: v for k, v in form.items() if k != "_csrf"}, "no token"),
        ({"Origin": base_url}, dict(form, _csrf="0" * 64), "a forged token"),
    ]:
        r = requests.post(base_url + "/ui/enroll", data=data, headers=headers,
                          allow_redirects=False)
        assert r.status_code == 403, why
    assert nodes_named(api, "csrf-victim") == []
    # The nonce was not spent by the refused requests.
    r = requests.post(base_url + "/ui/enroll", data=form, headers={"Origin": base_url},
                      allow_redirects=False)
    assert r.status_code == 303


def test_bad_form_bodies_get_clear_errors(base_url):
    csrf, nonce = form_tokens(base_url, "/ui/enroll")
    h = {"Origin": base_url, "Content-Type": "application/x-www-form-urlencoded"}
    r = requests.post(base_url + "/ui/enroll", headers=h,
                      data=f"_csrf={csrf}&_nonce={nonce}&name=%ZZ".encode())
    assert r.status_code == 400
    assert fault(r) == 'Invalid form: the value of "name" has a malformed percent-escape.'
    r = requests.post(base_url + "/ui/enroll", headers=h,
                      data=f"_csrf={csrf}&_nonce={nonce}&name=%FF".encode())
    assert fault(r) == 'Invalid form: the value of "name" is not valid UTF-8.'
    r = requests.post(base_url + "/ui/enroll", headers=h,
                      data=f"_csrf={csrf}&_nonce={nonce}&sneaky=1".encode())
    assert fault(r) == 'Invalid form: unexpected field "sneaky".'
    r = requests.post(base_url + "/ui/enroll", headers=h,
                      data=f"_csrf={csrf}&_nonce={nonce}&name=" .encode() + b"x" * 2_000_000)
    assert r.status_code == 413
    r = requests.post(base_url + "/ui/enroll", headers={"Origin": base_url},
                      json={"_csrf": csrf})
    assert r.status_code == 415


def test_script_in_a_name_stays_text(page, base_url, api, shot):
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    evil = "<script>alert(1)</script>"
    open_enroll(page, base_url)
    page.select_option("#driver", "fake-hardware")
    page.fill("#name", evil)
    page.fill("#macs", "<img src=x onerror=alert(2)>")
    page.click("#enroll-submit")
    page.locator("p.field-error").first.wait_for()
    shot(page, "forms_enroll_script_name")
    # Refused (not a valid name, not a MAC) in Ironic's words, the markup shown as text.
    assert page.input_value("#name") == evil
    assert "<img src=x onerror=alert(2)>" in page.input_value("#macs")
    assert page.locator("script:not([src])").count() == 0
    assert page.locator("main img").count() == 0
    assert dialogs == []
    # Ironic's message quotes the name: shown as the characters typed.
    err = page.locator("p.field-error[data-field=name]").inner_text()
    assert err == f"Cannot create node with invalid name '{evil}'"
    assert nodes_named(api, evil) == []


class ImageServer:
    """A loopback HTTP server the test owns, serving one small image."""

    def __init__(self, body):
        body_ = body

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", str(len(body_)))
                self.end_headers()
                self.wfile.write(body_)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/disk.raw"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()


@pytest.fixture
def image():
    srv = ImageServer(b"\0" * 4096)
    yield srv, hashlib.sha256(b"\0" * 4096).hexdigest()
    srv.stop()


def available_node(api, name):
    node = api.create_node(name=name)
    api.provision(node["uuid"], "manage")
    api.wait_for(node["uuid"], provision_state="manageable")
    api.provision(node["uuid"], "provide")
    api.wait_for(node["uuid"], provision_state="available")
    return node["uuid"]


def test_deploy_through_the_form_to_active(page, base_url, api, image, shot):
    (srv, sha) = image
    uuid = available_node(api, "deploy-me")
    page.goto(f"{base_url}/ui/machines/{uuid}/deploy")
    page.wait_for_function("typeof htmx === 'object'")
    # Validate runs the node's /validate and shows each interface.
    page.click("#validate-button")
    page.locator(f"#validate-{uuid} tr[data-interface=power]").wait_for()
    api_result = api.get(f"/v1/nodes/{uuid}/validate")
    for kind, res in api_result.items():
        row = page.locator(f"#validate-{uuid} tr[data-interface={kind}]")
        assert row.locator("td").nth(1).inner_text() == ("ok" if res["result"] else "failed")
    # A bad SSH key is refused inline, the rest kept.
    page.fill("#image_source", srv.url)
    page.fill("#image_checksum", f"sha256:{sha}")
    page.fill("#ssh_keys", "not a key")
    page.fill("#hostname", "deploy-me.example.org")
    page.click("#deploy-submit")
    page.locator("p.field-error[data-field=ssh_keys]").wait_for()
    assert page.input_value("#image_source") == srv.url
    assert api.get(f"/v1/nodes/{uuid}")["provision_state"] == "available"
    page.fill("#ssh_keys", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGV4YW1wbGVrZXkgZm9yIHRlc3Q= t@h")
    shot(page, "forms_deploy_filled")
    page.click("#deploy-submit")
    page.wait_for_url(f"{base_url}/ui/machines/{uuid}")
    node = api.wait_for(uuid, provision_state="active")
    ii = node["instance_info"]
    assert ii["image_source"] == srv.url and ii["image_checksum"] == f"sha256:{sha}"
    # The config drive reached the node (the API masks its content).
    assert ii["configdrive"] == "******"


def test_deploy_in_the_wrong_state_shows_ironics_error(page, base_url, api, shot):
    node = api.create_node(name="still-enrolling")
    uuid = node["uuid"]
    page.goto(f"{base_url}/ui/machines/{uuid}/deploy")
    page.wait_for_function("typeof htmx === 'object'")
    page.fill("#image_source", "http://127.0.0.1:9/x.raw")
    page.fill("#image_checksum", "sha256:" + "0" * 64)
    page.click("#deploy-submit")
    err = page.locator("#form-error")
    err.wait_for()
    assert err.inner_text() == (f'The requested action "active" can not be performed on node '
                                f'"{uuid}" while it is in state "enroll".')
    shot(page, "forms_deploy_wrong_state")
    assert page.input_value("#image_source") == "http://127.0.0.1:9/x.raw"
    # Refused before anything changed.
    assert "image_source" not in api.get(f"/v1/nodes/{uuid}")["instance_info"]


def test_enroll_under_http_basic_uses_the_sessions_token(start_server, browser, shot):
    srv = start_server(auth="http_basic", users={"admin": "s3cret"})
    ctx = browser.new_context()
    pg = ctx.new_page()
    try:
        pg.goto(srv.url + "/ui/enroll")
        assert "/ui/login" in pg.url
        pg.fill("input[name=username]", "admin")
        pg.fill("input[name=password]", "s3cret")
        pg.click("button[type=submit]")
        pg.wait_for_url(srv.url + "/ui/enroll")
        pg.wait_for_function("typeof htmx === 'object'")
        pg.select_option("#driver", "fake-hardware")
        pg.fill("#name", "behind-login")
        pg.click("#enroll-submit")
        pg.wait_for_url(re.compile(r".*/ui/machines/[0-9a-f-]{36}$"))
        nodes = requests.get(srv.url + "/v1/nodes", auth=("admin", "s3cret"),
                             headers={"X-OpenStack-Ironic-API-Version": "latest"}).json()
        assert [n["name"] for n in nodes["nodes"]] == ["behind-login"]
        # Without the session the form is not served, and a POST is not accepted.
        r = requests.post(srv.url + "/ui/enroll", data={"driver": "fake-hardware"},
                          headers={"Origin": srv.url}, allow_redirects=False)
        assert r.status_code in (303, 401, 403)
    finally:
        ctx.close()


def test_a_refusal_htmx_does_not_swap_is_shown_inline(page, base_url, api, shot):
    # A stale form (its one-shot nonce spent elsewhere, e.g. in another tab) answers 409
    # with Ironic's error body; htmx swaps nothing on an error status, so ui.js shows it.
    open_enroll(page, base_url)
    page.select_option("#driver", "fake-hardware")
    page.fill("#name", "stale-form")
    page.evaluate("document.querySelector('input[name=_nonce]').value = '00'")
    page.click("#enroll-submit")
    alert = page.locator("[data-htmx-error]")
    alert.wait_for()
    assert alert.inner_text().strip(), "the refusal is shown"
    assert "<" not in alert.inner_html(), "shown as text"
    assert nodes_named(api, "stale-form") == []
    # The form is usable again: a fresh page enrolls once.
    shot(page, "forms_refusal_inline")
