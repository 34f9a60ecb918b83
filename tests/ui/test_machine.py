"""The Machine page (actions from the state machine, live header and boot timeline,
confirmation, double clicks, Ironic's errors inline, escaping) and the Network page."""

import re

import requests

XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=1</script>'


def header(page):
    return page.locator("#machine-header")


def wait_state(page, state, timeout=30_000):
    page.wait_for_selector(f'#machine-header[data-state="{state}"]', timeout=timeout)


def click(page, verb):
    page.locator(f'#machine-header button[data-verb="{verb}"]').click()


def history(api, uuid):
    return api.get(f"/v1/nodes/{uuid}/history?detail=true")["history"]


def test_lifecycle_with_the_buttons_updates_live_without_reload(page, base_url, api, shot):
    n = api.create_node(name="ui-machine-1")
    uuid = n["uuid"]
    api.post("/v1/ports", {"address": "52:54:00:12:34:56", "node_uuid": uuid})
    page.goto(f"{base_url}/ui/machines/{uuid}")
    page.evaluate("window.__sameDocument = 'yes'")
    wait_state(page, "enroll")
    # Only what the table allows from enroll (plus power, maintenance, delete).
    verbs = page.locator("#machine-header [data-verb]").evaluate_all(
        "els => els.map(e => e.dataset.verb)")
    assert [v for v in verbs if v not in (
        "power-on", "power-off", "reboot", "maintenance-on", "delete")] == ["manage"]
    assert page.locator("#console-panel").count() == 1

    click(page, "manage")
    wait_state(page, "manageable")
    click(page, "provide")
    wait_state(page, "available")
    shot(page, "machine_available")
    # Deploy through the API: the page follows on its own.
    api.provision(uuid, "active")
    wait_state(page, "active")
    page.wait_for_selector("#timeline details.attempt[open] b.verb:text-is('deploy')")
    assert page.locator("#timeline details.attempt").count() >= 3
    # Older attempts are collapsed; steps carry a duration and a bar.
    assert page.locator("#timeline details.attempt[open]").count() == 1
    step = page.locator("#timeline details.attempt[open] tr.tl-step").first
    assert "deploy.deploy" in step.inner_text()
    assert re.search(r"\d+\.\d s", step.inner_text())
    assert step.locator(".bar").count() == 1
    shot(page, "machine_active")

    # Undeploy is destructive: a confirmation in the page first, nothing happens before it.
    click(page, "undeploy")
    page.wait_for_selector("form.confirm")
    assert api.get(f"/v1/nodes/{uuid}")["provision_state"] == "active"
    shot(page, "machine_confirm_undeploy")
    page.locator("form.confirm button.confirm-yes").click()
    wait_state(page, "available", timeout=60_000)
    page.wait_for_selector("#timeline details.attempt[open] b.verb:text-is('delete')")
    assert page.evaluate("window.__sameDocument") == "yes", "the page was reloaded"
    rows = page.locator("#timeline details.attempt[open] tbody tr").all_inner_texts()
    kinds = page.locator("#timeline details.attempt[open] tr .kind").all_inner_texts()
    # fake-hardware cleans with no steps and needs no power action to tear down.
    assert kinds.count("state") == 3, rows
    assert any("Cleaning completed successfully" in r for r in rows), rows
    shot(page, "machine_after_undeploy")


def test_power_off_asks_first_and_cancel_does_nothing(page, base_url, api):
    uuid = api.create_node(name="ui-machine-power")["uuid"]
    api.put(f"/v1/nodes/{uuid}/states/power", {"target": "power on"})
    api.wait_for(uuid, power_state="power on")
    page.goto(f"{base_url}/ui/machines/{uuid}")
    page.wait_for_selector('#machine-header[data-power="power on"]')
    click(page, "power-off")
    page.wait_for_selector("form.confirm")
    page.locator("form.confirm button.confirm-no").click()
    page.wait_for_selector("#machine-header .actions")
    assert api.get(f"/v1/nodes/{uuid}")["power_state"] == "power on"
    click(page, "power-off")
    page.locator("form.confirm button.confirm-yes").click()
    page.wait_for_selector('#machine-header[data-power="power off"]')
    api.wait_for(uuid, power_state="power off")


def test_a_double_click_acts_once(page, base_url, api):
    uuid = api.create_node(name="ui-machine-dbl")["uuid"]
    page.goto(f"{base_url}/ui/machines/{uuid}")
    page.locator('#machine-header button[data-verb="manage"]').dblclick()
    wait_state(page, "manageable")
    page.wait_for_timeout(500)
    manages = [e for e in history(api, uuid) if e["event_type"] == "provision_manage"]
    assert len(manages) == 1, manages
    # The same form replayed by hand (same nonce): a no-op answered with the header.
    html = requests.get(f"{base_url}/ui/machines/{uuid}").text
    csrf = re.search(r'name="_csrf" value="([0-9a-f]+)"', html).group(1)
    nonce = re.search(r'name="nonce" value="([^"]+)"', html).group(1)
    form = {"verb": "maintenance-on", "nonce": nonce, "_csrf": csrf}
    h = {"Origin": base_url}
    r1 = requests.post(f"{base_url}/ui/machines/{uuid}/action", data=form, headers=h)
    r2 = requests.post(f"{base_url}/ui/machines/{uuid}/action", data=form, headers=h)
    assert r1.status_code == r2.status_code == 200
    sets = [e for e in history(api, uuid) if e["event_type"] == "maintenance"]
    assert len(sets) == 1, sets
    # Without the CSRF token: refused in Ironic's shape.
    r3 = requests.post(f"{base_url}/ui/machines/{uuid}/action",
                       data={"verb": "maintenance-off", "nonce": "x"}, headers=h)
    assert r3.status_code == 403 and "error_message" in r3.json()


def test_refusals_are_shown_inline_in_ironics_words(page, base_url, api):
    uuid = api.create_node(name="ui-machine-err")["uuid"]
    page.goto(f"{base_url}/ui/machines/{uuid}")
    # A stale page offering a verb no longer valid: forge one from the manage button.
    page.locator('#machine-header form.action:has(button[data-verb="manage"]) input[name="verb"]') \
        .evaluate("e => e.value = 'provide'")
    click(page, "manage")
    err = page.wait_for_selector("#machine-header .action-error")
    assert f'The requested action "provide" can not be performed on node "{uuid}" ' \
           f'while it is in state "enroll".' in err.inner_text()
    # The conductor's own refusal, synchronous: clean steps without a step name.
    api.provision(uuid, "manage")
    api.wait_for(uuid, provision_state="manageable")
    wait_state(page, "manageable")
    page.wait_for_timeout(300)
    click(page, "clean")
    page.locator("form.confirm textarea[name=clean_steps]").fill('[{"interface": "deploy"}]')
    page.locator("form.confirm button.confirm-yes").click()
    err = page.wait_for_selector("#machine-header .action-error")
    print(err.inner_text())
    assert "step" in err.inner_text()
    assert api.get(f"/v1/nodes/{uuid}")["provision_state"] == "manageable"
    # ... and asynchronous: an unknown step fails the cleaning, last_error says why.
    click(page, "clean")
    page.locator("form.confirm textarea[name=clean_steps]").fill(
        '[{"interface": "deploy", "step": "no_such_step"}]')
    page.locator("form.confirm button.confirm-yes").click()
    wait_state(page, "clean failed")
    assert "deploy.no_such_step is not supported" in \
        page.locator("#machine-header .last-error").inner_text()


def test_values_from_nodes_and_ports_stay_text(page, base_url, api):
    n = api.create_node(name="ui-machine-xss", driver_info={"deploy_kernel": XSS,
                                                             "ipmi_password": "hunter2"},
                        extra={"x": XSS})
    uuid = n["uuid"]
    api.post("/v1/ports", {"address": "52:54:00:aa:bb:cc", "node_uuid": uuid,
                           "extra": {"label": XSS}})
    api.put(f"/v1/nodes/{uuid}/maintenance", {"reason": XSS})
    page.goto(f"{base_url}/ui/machines/{uuid}")
    page.wait_for_selector("#machine-header .maint .warn")
    assert XSS in page.locator("#machine-header .maint").inner_text()
    assert XSS in page.locator("section.driver-info").inner_text()
    assert "<script>window.__xss=1</script>" in page.locator("section.ports").inner_text()
    assert page.locator("section img, #machine-header img").count() == 0
    assert page.evaluate("window.__xss") is None
    # Secrets masked as the API masks them, in the table and the raw JSON.
    assert "hunter2" not in page.content()
    assert "******" in page.locator("section.driver-info").inner_text()


def test_network_page_shows_the_boot_servers_state(page, base_url):
    page.goto(f"{base_url}/ui/network")
    page.wait_for_selector("dd.dhcp-mode")
    assert "boot servers off" in page.locator("section.boot-servers").inner_text()
    assert page.locator("#netlog").count() == 1


def test_delete_asks_then_goes_back_to_the_list(page, base_url, api):
    uuid = api.create_node(name="ui-machine-del")["uuid"]
    page.goto(f"{base_url}/ui/machines/{uuid}")
    click(page, "delete")
    page.wait_for_selector("form.confirm")
    assert api.get(f"/v1/nodes/{uuid}")["uuid"] == uuid
    page.locator("form.confirm button.confirm-yes").click()
    page.wait_for_url(re.compile(r".*/ui/machines$"))
    api.get(f"/v1/nodes/{uuid}", expect=404)


def test_network_page_shows_boot_traffic_live(start_server, browser):
    # Boot servers on loopback (DHCP off: no packets leave the host), ephemeral ports.
    s = start_server(extra_config='[dhcp]\ninterface = "lo"\nmode = "off"\n'
                                  '[pxe]\nhttp_port = 0\ntftp_port = 0\n')
    import json
    http_boot = json.loads((s.state_dir / "endpoints.json").read_text())["http_boot"]
    ctx = browser.new_context()
    page = ctx.new_page()
    try:
        page.goto(f"{s.url}/ui/network")
        page.wait_for_selector("dd.dhcp-mode:text-is('off')")
        assert "lo" in page.locator("section.boot-servers").inner_text()
        page.evaluate("window.__sameDocument = 'yes'")
        requests.get(f"{http_boot}/files/%3Cimg%20src=x%20onerror=window.__xss=1%3E.img")
        row = page.wait_for_selector("#netlog tr.net-failed", timeout=10_000)
        text = row.inner_text()
        assert "http" in text and "not found" in text and "%3Cimg" in text, text
        assert page.locator("#netlog img").count() == 0
        assert page.evaluate("window.__xss") is None
        assert page.evaluate("window.__sameDocument") == "yes"
        page.screenshot(path=str(__import__("pathlib").Path(__file__).parent
                                 / "screenshots" / "network_live.png"), full_page=True)
    finally:
        ctx.close()


def test_hardware_from_an_in_band_inspection(page, base_url, api):
    n = api.create_node(name="ui-machine-hw", inspect_interface="agent",
                        driver_info={"deploy_kernel": "k", "deploy_ramdisk": "r"})
    uuid = n["uuid"]
    mac = "52:54:00:aa:00:42"
    api.post("/v1/ports", {"address": mac, "node_uuid": uuid})
    page.goto(f"{base_url}/ui/machines/{uuid}")
    click(page, "manage")
    wait_state(page, "manageable")
    click(page, "inspect")
    wait_state(page, "inspect wait")
    inventory = {
        "system_vendor": {"manufacturer": XSS, "product_name": "Standard PC",
                          "serial_number": "SN-42"},
        "interfaces": [{"name": "eth0", "mac_address": mac, "speed_mbps": 1000}],
        "cpu": {"architecture": "x86_64", "count": 2, "model_name": "QEMU Virtual CPU"},
        "memory": {"total": 2147483648, "physical_mb": 2048},
        "disks": [{"name": "/dev/vda", "size": 21474836480, "model": "QEMU HARDDISK"}],
    }
    # IPA's call, without a version header.
    r = requests.post(f"{base_url}/v1/continue_inspection", json={"inventory": inventory})
    assert r.status_code == 202, r.text
    wait_state(page, "manageable")
    page.reload()
    hw = page.locator("section.hardware").inner_text()
    for want in (XSS, "Standard PC", "SN-42", "2 × QEMU Virtual CPU (x86_64)", "2.0 GiB",
                 "/dev/vda", "20.0 GiB", "QEMU HARDDISK", "eth0", mac, "1000 Mb/s"):
        assert want in hw, (want, hw)
    assert page.evaluate("window.__xss") is None
