#!/usr/bin/env python3
"""sushy-tools' Redfish emulator (sushy-emulator) with its fake systems driver, for the
ironbox redfish integration tests. Three additions, all in this file:

* The stock fake driver applies a power change 1-11 s (random) after the request. Here the
  delay is `IRONBOX_POWER_DELAY` seconds from the emulator config (stock when unset), so
  tests still have to wait for the state to change, but not for 11 s.
* The stock fake driver reports no CPUs, memory or disks. A system in
  SUSHY_EMULATOR_FAKE_SYSTEMS may carry "cpus", "memory_gib" and "disks" ([{"name",
  "size_bytes"}]); they are served as ProcessorSummary/Processors, MemorySummary and
  SimpleStorage, as the libvirt driver would. The "Nmi" reset is accepted (and ignored).
* Every request that is not a GET is appended, as one JSON line {method, path, body}, to
  the file named by `IRONBOX_REQUEST_LOG`, so a test can see what ironbox sent (the
  emulator ignores BootSourceOverrideEnabled, for one).
* With `IRONBOX_REJECT_CONTINUOUS = True`, a PATCH asking for BootSourceOverrideEnabled
  Continuous gets HTTP 400, as from BMCs that dropped it.
* The stock fake driver has no BIOS and no firmware versions. Here every system has BIOS
  attributes (the libvirt driver's defaults, typed as real BMCs type them; the stock
  registry describes them), Bios.ResetBios restores them, and a BiosVersion ("1.0.0", or
  the system's "bios_version") that the stock SimpleUpdate raises.
* sushy-tools has no EventService. Here there is a small one: the service root links
  /redfish/v1/EventService, whose Subscriptions collection takes POST (201 with a
  Location), GET and DELETE of members, kept in memory.

usage: sushy_fake.py --config <file> [sushy-emulator args: -i 127.0.0.1 -p PORT ...]
"""
import io
import json
import os
import sys
import time

from sushy_tools.emulator import main as emu_main
from sushy_tools.emulator.resources.systems import fakedriver
from sushy_tools import error


DEFAULT_BIOS = {"BootMode": "Uefi", "EmbeddedSata": "Raid", "L2Cache": "10x256 KB",
                "NicBoot1": "NetworkBoot", "NumCores": 10, "ProcTurboMode": "Enabled",
                "QuietBoot": True, "SecureBootStatus": "Enabled", "SerialNumber": "QPX12345",
                "SysPassword": ""}


class IronboxFakeDriver(fakedriver.FakeDriver):
    def get_bios(self, identity):
        return dict(self._get(identity).get("bios") or DEFAULT_BIOS)

    def set_bios(self, identity, attributes):
        bios = self.get_bios(identity)
        bios.update(attributes or {})
        self._update(identity, bios=bios)

    def reset_bios(self, identity):
        self._update(identity, bios=dict(DEFAULT_BIOS))

    def get_versions(self, identity):
        return {"BiosVersion": self._get(identity).get("bios_version", "1.0.0")}

    def set_versions(self, identity, versions):
        self._update(identity, bios_version=versions.get("BiosVersion"))

    def set_power_state(self, identity, state):
        delay = self._config.get("IRONBOX_POWER_DELAY")
        if delay is None:
            return super().set_power_state(identity, state)
        system = self._get(identity)
        if state == "Nmi":
            return
        if "On" in state:
            pending = "On"
        elif state in ("ForceOff", "GracefulShutdown"):
            pending = "Off"
        elif "Restart" in state:
            system["power_state"] = "Off"
            pending = state
        else:
            raise error.NotSupportedError(f"Power state {state} is not supported")
        if system["power_state"] != pending:
            self._update(system, pending_power={"power_state": pending,
                                                "apply_time": time.time() + float(delay)})

    def _fact(self, identity, key):
        value = self._get(identity).get(key)
        if value is None:
            raise error.NotSupportedError("Not implemented")
        return value

    def get_total_memory(self, identity):
        return self._fact(identity, "memory_gib")

    def get_total_cpus(self, identity):
        return self._fact(identity, "cpus")

    def get_processors(self, identity):
        return [{"id": f"CPU{i}", "socket": f"CPU {i}", "model": "Fake CPU",
                 "vendor": "Fake", "cores": "1", "threads": "1"}
                for i in range(self._fact(identity, "cpus"))]

    def get_simple_storage_collection(self, identity):
        disks = self._fact(identity, "disks")
        return {"sata": {"Id": "sata", "Name": "sata", "DeviceList": [
            {"Name": d["name"], "CapacityBytes": d["size_bytes"]} for d in disks]}}


class RequestLog:
    """WSGI middleware: one JSON line per non-GET request; optionally refuses Continuous."""

    def __init__(self, app, path, reject_continuous=False):
        self.app, self.path, self.reject_continuous = app, path, reject_continuous

    def __call__(self, env, start_response):
        if env.get("REQUEST_METHOD") != "GET":
            length = int(env.get("CONTENT_LENGTH") or 0)
            raw = env["wsgi.input"].read(length) if length else b""
            env["wsgi.input"] = io.BytesIO(raw)
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode("utf-8", "replace")
            with open(self.path, "a") as f:
                f.write(json.dumps({"method": env["REQUEST_METHOD"],
                                    "path": env.get("PATH_INFO"), "body": body}) + "\n")
            boot = body.get("Boot") if isinstance(body, dict) else None
            if (self.reject_continuous and isinstance(boot, dict)
                    and boot.get("BootSourceOverrideEnabled") == "Continuous"):
                msg = json.dumps({"error": {"code": "Base.1.0.PropertyValueNotInList",
                                            "message": "Continuous is not supported"}}).encode()
                start_response("400 Bad Request", [("Content-Type", "application/json"),
                                                   ("Content-Length", str(len(msg)))])
                return [msg]
        return self.app(env, start_response)


SUBSCRIPTIONS = {}
EVENTS = "/redfish/v1/EventService"


def _json(body, status=200, headers=None):
    return emu_main.app.response_class(json.dumps(body), status=status,
                                       mimetype="application/json", headers=headers)


def _root_with_events():
    root = json.loads(emu_main.app.render_template("root.json"))
    root["EventService"] = {"@odata.id": EVENTS}
    return _json(root)


emu_main.app.view_functions["root_resource"] = _root_with_events


@emu_main.app.route(EVENTS)
def _event_service():
    return _json({"@odata.id": EVENTS, "Id": "EventService", "ServiceEnabled": True,
                  "EventTypesForSubscription": ["Alert", "StatusChange"],
                  "Subscriptions": {"@odata.id": EVENTS + "/Subscriptions"}})


@emu_main.app.route(EVENTS + "/Subscriptions", methods=["GET", "POST"])
def _subscriptions():
    from flask import request
    if request.method == "POST":
        sub = dict(request.get_json(force=True))
        sub["Id"] = str(len(SUBSCRIPTIONS) + 1)
        sub["@odata.id"] = EVENTS + "/Subscriptions/" + sub["Id"]
        SUBSCRIPTIONS[sub["Id"]] = sub
        return _json(sub, 201, {"Location": sub["@odata.id"]})
    return _json({"@odata.id": EVENTS + "/Subscriptions", "Members@odata.count": len(SUBSCRIPTIONS),
                  "Members": [{"@odata.id": s["@odata.id"]} for s in SUBSCRIPTIONS.values()]})


@emu_main.app.route(EVENTS + "/Subscriptions/<sid>", methods=["GET", "DELETE"])
def _subscription(sid):
    from flask import request
    if sid not in SUBSCRIPTIONS:
        return _json({"error": {"code": "Base.1.0.ResourceMissingAtURI",
                                "message": "No subscription " + sid}}, 404)
    if request.method == "DELETE":
        del SUBSCRIPTIONS[sid]
        return _json({}, 204)
    return _json(SUBSCRIPTIONS[sid])


fakedriver.FakeDriver = IronboxFakeDriver
if "--fake" not in sys.argv:
    sys.argv.append("--fake")
_configure = emu_main.app.configure


def configure(config_file=None, extra_config=None):
    # Wrap before the auth middleware does (in configure): only authenticated requests
    # are logged.
    if config_file:
        emu_main.app.config.from_pyfile(os.path.abspath(config_file))
    log = emu_main.app.config.get("IRONBOX_REQUEST_LOG")
    if log and not isinstance(emu_main.app.wsgi_app, RequestLog):
        emu_main.app.wsgi_app = RequestLog(
            emu_main.app.wsgi_app, log,
            bool(emu_main.app.config.get("IRONBOX_REJECT_CONTINUOUS")))
    _configure(config_file=config_file, extra_config=extra_config)


emu_main.app.configure = configure
sys.exit(emu_main.main())
