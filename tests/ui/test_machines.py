"""The Machines view: live rows and counts, search, filters, paging, escaping."""

import re
import uuid

import pytest
import requests

XSS = ['<script>alert(1)</script>', '"><img src=x onerror=alert(2)>']


def row(page, node_uuid):
    return page.locator(f"#node-{node_uuid}")


def open_list(page, base_url, query=""):
    page.goto(f"{base_url}/ui/machines{query}")
    # The SSE stream is open once its first (resync) events arrived; mark the document so a
    # reload would be noticed.
    page.evaluate("window.__not_reloaded = true")
    page.wait_for_function(
        "() => document.querySelector('[sse-connect]')['htmx-internal-data']?.sseEventSource?.readyState === 1")


def still_same_document(page):
    return page.evaluate("window.__not_reloaded === true")


@pytest.fixture(scope="module")
def server(start_server):
    # Its own ironbox: the counts and the empty state depend on every node it holds.
    return start_server()


def test_empty_state_then_a_node_created_over_the_api_appears_live(page, base_url, api, shot):
    open_list(page, base_url)
    assert "No machines yet" in page.locator("tr.empty-row").inner_text()
    assert page.locator("tr.empty-row").is_visible()
    shot(page, "machines_empty")
    n = api.create_node(name="live-one", resource_class="baremetal")
    r = row(page, n["uuid"])
    r.wait_for()
    assert r.locator("td.name a").inner_text() == "live-one"
    assert r.locator("td.provision").inner_text().startswith("enroll")
    assert not page.locator("tr.empty-row").is_visible()
    page.locator("#counts a", has_text="enroll").wait_for()
    assert "enroll 1" in page.locator("#counts").inner_text()
    assert still_same_document(page)


def test_state_changes_and_ports_arrive_live(page, base_url, api):
    n = api.create_node(name="mover")
    open_list(page, base_url)
    r = row(page, n["uuid"])
    api.post("/v1/ports", {"address": "52:54:00:12:34:56", "node_uuid": n["uuid"]})
    r.locator("td.macs", has_text="52:54:00:12:34:56").wait_for()
    api.provision(n["uuid"], "manage")
    api.wait_for(n["uuid"], provision_state="manageable")
    r.locator("td.provision", has_text="manageable").wait_for()
    page.locator("#counts a", has_text="manageable").wait_for()
    api.put(f"/v1/nodes/{n['uuid']}/states/power", {"target": "power off"})
    api.wait_for(n["uuid"], power_state="power off")
    r.locator("td.power", has_text="power off").wait_for()
    api.put(f"/v1/nodes/{n['uuid']}/maintenance", {"reason": "disk swap"})
    r.locator("td.flags .badge", has_text="maintenance").wait_for()
    api.delete(f"/v1/nodes/{n['uuid']}")
    r.locator("td", has_text="deleted").wait_for()
    assert still_same_document(page)


def test_search_and_filters_are_a_bookmarkable_get_form(page, base_url, api, shot):
    a = api.create_node(name="rack1-web", resource_class="gpu")
    b = api.create_node(name="rack2-db", resource_class="cpu")
    api.post("/v1/ports", {"address": "52:54:00:aa:bb:01", "node_uuid": b["uuid"]})
    page.goto(base_url + "/ui/machines")
    page.fill("input[name=q]", "rack1")
    page.click("form.filters button[type=submit]")
    page.wait_for_url(re.compile(r".*q=rack1.*"))
    assert row(page, a["uuid"]).is_visible() and row(page, b["uuid"]).count() == 0
    shot(page, "machines_search")
    # By MAC (typed with dashes, upper case), by UUID prefix, by resource class.
    page.goto(base_url + "/ui/machines?q=52-54-00-AA-BB-01")
    assert row(page, b["uuid"]).is_visible() and row(page, a["uuid"]).count() == 0
    page.goto(base_url + f"/ui/machines?q={a['uuid'][:8]}")
    assert row(page, a["uuid"]).is_visible() and row(page, b["uuid"]).count() == 0
    page.goto(base_url + "/ui/machines?resource_class=cpu")
    assert row(page, b["uuid"]).is_visible() and row(page, a["uuid"]).count() == 0
    page.goto(base_url + "/ui/machines?state=enroll&maintenance=no&driver=fake-hardware")
    assert row(page, a["uuid"]).is_visible()
    page.goto(base_url + "/ui/machines?state=active")
    assert "No machine matches this filter." in page.locator("tr.empty-row").inner_text()
    r = requests.get(base_url + "/ui/machines?maintenance=maybe")
    assert r.status_code == 400 and "maintenance" in r.json()["error_message"]


def test_keyset_paging(page, base_url, api):
    tag = uuid.uuid4().hex[:6]
    made = [api.create_node(name=f"page-{tag}-{i}")["uuid"] for i in range(7)]
    seen = []
    page.goto(f"{base_url}/ui/machines?q=page-{tag}&limit=3")
    while True:
        ids = page.locator("#machine-rows tr[id^=node-]").evaluate_all(
            "rows => rows.map(r => r.id.slice(5))")
        assert len(ids) <= 3
        seen += ids
        nxt = page.locator("nav.pager a[rel=next]")
        if nxt.count() == 0:
            break
        assert "after=" in nxt.get_attribute("href")
        nxt.click()
        page.wait_for_load_state()
    assert seen == made
    assert page.locator("nav.pager a", has_text="first page").count() == 1


def test_a_new_node_on_a_full_page_waits_for_the_next_page(page, base_url, api):
    tag = uuid.uuid4().hex[:6]
    for i in range(2):
        api.create_node(name=f"full-{tag}-{i}")
    open_list(page, base_url, f"?q=full-{tag}&limit=2")
    late = api.create_node(name=f"full-{tag}-late")
    other = api.create_node(name=f"unrelated-{tag}")
    api.patch(f"/v1/nodes/{late['uuid']}", [{"op": "add", "path": "/extra/x", "value": 1}])
    page.wait_for_timeout(700)
    assert row(page, late["uuid"]).count() == 0 and row(page, other["uuid"]).count() == 0
    assert page.locator("#machine-rows tr[id^=node-]").count() == 2


def test_values_from_nodes_stay_text(page, base_url, api, shot):
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    # Ironic's names are hostname-like: the API refuses markup in them (400, in its words).
    r = requests.post(base_url + "/v1/nodes", json={"driver": "fake-hardware", "name": XSS[0]},
                      headers={"X-OpenStack-Ironic-API-Version": "latest"})
    assert r.status_code == 400
    # Free-text fields reach the page, in text and in attribute positions.
    n = api.create_node(resource_class=XSS[0])
    open_list(page, base_url)
    m = api.create_node(resource_class=XSS[1])
    api.put(f"/v1/nodes/{n['uuid']}/maintenance", {"reason": XSS[1]})
    row(page, m["uuid"]).wait_for()
    row(page, n["uuid"]).locator("td.flags .badge").wait_for()
    assert row(page, n["uuid"]).locator("td.driver .small").inner_text() == XSS[0]
    assert row(page, m["uuid"]).locator("td.driver .small").inner_text() == XSS[1]
    assert row(page, n["uuid"]).locator("td.flags .badge").get_attribute("title") == XSS[1]
    assert page.locator("table.machines img, table.machines script").count() == 0
    page.reload()
    assert page.locator("table.machines img, table.machines script").count() == 0
    shot(page, "machines_xss")
    assert dialogs == []


def test_a_node_leaving_the_filter_is_greyed_and_counts_follow(page, base_url, api):
    tag = uuid.uuid4().hex[:6]
    n = api.create_node(name=f"leaver-{tag}")
    open_list(page, base_url, f"?q=leaver-{tag}&state=enroll")
    r = row(page, n["uuid"])
    assert r.locator("td.provision").inner_text().startswith("enroll")
    api.provision(n["uuid"], "manage")
    api.wait_for(n["uuid"], provision_state="manageable")
    r.locator("td", has_text="no longer matches the filter").wait_for()
    assert "gone" in r.get_attribute("class")
    assert still_same_document(page)
