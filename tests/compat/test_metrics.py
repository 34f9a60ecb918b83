"""``/metrics`` after a life-cycle driven with the real CLI (ironbox only).

Self-contained, so it holds wherever it runs in the suite: it scrapes
``/metrics`` before and after taking one fake-hardware node through enroll ->
manage -> provide -> deploy -> undeploy with the ``baremetal`` CLI, parses both
scrapes with Prometheus' own parser (``prometheus_client.parser``), and checks
that the differences are exactly what the test did: the provision transitions,
one provision duration per verb, the node gauges, and the API requests counted
under their route patterns (never a node's UUID). A server without
``/metrics`` (a reference Ironic) skips it.
"""

import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

import conftest
from conftest import bm

pytestmark = pytest.mark.conductor

IMAGE = "http://127.0.0.1:1/cmp-image.qcow2"


def scrape():
    """{(sample name, frozenset(labels)): value} and the raw text."""
    try:
        with urllib.request.urlopen(conftest.IRONIC_URL + "/metrics",
                                    timeout=30) as resp:
            ctype = resp.headers.get("Content-Type", "")
            text = resp.read().decode()
    except urllib.error.HTTPError as e:
        if e.code == 404:
            pytest.skip("the server has no /metrics (not ironbox)")
        raise
    assert ctype.startswith("text/plain; version=0.0.4"), ctype
    samples = {}
    for family in text_string_to_metric_families(text):
        assert family.name.startswith("ironbox_"), family.name
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return samples, text


def value(samples, name, **labels):
    """The sample's value (0 if absent)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples, name, **labels):
    """Sum over every sample of ``name`` whose labels include ``labels``."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)


def test_metrics_count_what_the_cli_did(make_node):
    before, _ = scrape()
    node = make_node()
    uuid = node["uuid"]
    bm("node", "manage", uuid, "--wait", "60")
    bm("node", "provide", uuid, "--wait", "60")
    bm("node", "set", uuid, "--instance-info", "image_source=" + IMAGE,
       "--instance-info", "image_type=whole-disk")
    bm("node", "deploy", uuid, "--wait", "60")
    bm("node", "undeploy", uuid, "--wait", "60")
    after, text = scrape()

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    transitions = "ironbox_provision_transitions_total"
    for frm, event, to, n in [
            ("enroll", "manage", "verifying", 1),
            ("verifying", "done", "manageable", 1),
            ("manageable", "provide", "cleaning", 1),
            ("available", "deploy", "deploying", 1),
            ("active", "delete", "deleting", 1),
            ("deleting", "clean", "cleaning", 1),
            ("cleaning", "done", "available", 2)]:
        assert delta(transitions, **{"from": frm}, event=event, to=to) == n, (
            frm, event, to)
    duration = "ironbox_provision_duration_seconds_count"
    for verb, to in [("manage", "manageable"), ("provide", "available"),
                     ("deploy", "active"), ("delete", "available")]:
        assert delta(duration, verb=verb, to=to) == 1, (verb, to)

    # The gauges come from the database: the node now rests in "available".
    # (make_node's cleanup has not run yet.)
    assert delta("ironbox_nodes", provision_state="available") == 1
    assert (total(after, "ironbox_nodes")
            == total(before, "ironbox_nodes") + 1)
    assert (total(after, "ironbox_nodes_by_power_state")
            == total(after, "ironbox_nodes"))

    # Four verbs, each one PUT under the route pattern.
    route = "/v1/nodes/{node}/states/provision"
    assert delta("ironbox_api_requests_total", route=route, method="PUT",
                 status="202") == 4
    assert delta("ironbox_api_requests_total", route="/v1/nodes",
                 method="POST", status="201") == 1
    assert (total(after, "ironbox_api_request_duration_seconds_count",
                  route=route)
            - total(before, "ironbox_api_request_duration_seconds_count",
                    route=route)) == 4
    assert uuid not in text, "a node's UUID never becomes a label"
