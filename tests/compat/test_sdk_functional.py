"""openstacksdk's own functional baremetal tests, as shipped in its wheel, run unchanged
against the server under test.

They expect a clouds.yaml naming devstack clouds; each is written here as a noauth
cloud whose bare metal endpoint is IRONIC_URL.  Each module runs in its own pytest
process and must pass with nothing skipped: a skip would mean the server lacks what
the module tests (its microversion, its service).

To add a module, append its name (``test_<resource>``) to MODULES.
"""

import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

import conftest

MODULES = [
    "test_volume_connector",
    "test_volume_target",
]

_CLOUDS = ("devstack", "devstack-alt", "devstack-admin", "devstack-system-admin")


def _clouds_yaml(path, url):
    # JSON is YAML: no YAML library needed to write it.
    import json
    # The noauth plugin's endpoint is what the tests' microversion checks discover;
    # compute and image are absent (the tests would otherwise pick a flavor and image).
    cloud = {"auth_type": "none", "auth": {"endpoint": url + "/"},
             "baremetal_endpoint_override": url + "/",
             "has_compute": False, "has_image": False}
    path.write_text(json.dumps({"clouds": {name: cloud for name in _CLOUDS}}))


@pytest.mark.conductor
@pytest.mark.parametrize("module", MODULES)
def test_openstacksdk_functional(module, tmp_path):
    pytest.importorskip("fixtures", reason="tests/compat/requirements.txt not installed")
    clouds = tmp_path / "clouds.yaml"
    _clouds_yaml(clouds, conftest.IRONIC_URL)
    report = tmp_path / "report.xml"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update({
        "OS_CLIENT_CONFIG_FILE": str(clouds),
        "OS_CLOUD": "devstack-admin",
        "OPENSTACKSDK_FUNC_TEST_TIMEOUT": "60",
        # openstacksdk's unit-test default of 5 s per test is too short for waits on
        # provision and power states.
        "OS_TEST_TIMEOUT": "120",
        "PYTHONWARNINGS": "ignore",
    })
    target = "openstack.tests.functional.baremetal.v1." + module
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "--rootdir", str(tmp_path), "-c", os.devnull,
         "--junitxml", str(report), "--pyargs", target],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    detail = "\n--- stdout\n%s\n--- stderr\n%s" % (proc.stdout[-6000:],
                                                  proc.stderr[-3000:])
    assert report.exists(), "no report" + detail
    suite = ET.parse(report).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    counts = {k: int(suite.get(k, 0))
              for k in ("tests", "failures", "errors", "skipped")}
    assert counts["tests"] > 0, "no test collected" + detail
    assert counts["failures"] == counts["errors"] == 0, str(counts) + detail
    assert counts["skipped"] == 0, "skipped tests: %s%s" % (counts, detail)
    assert proc.returncode == 0, detail
