#!/usr/bin/env python3
"""sushy-tools' Redfish emulator whose systems are QEMU machines of the test lab.

sushy-tools' fake systems driver keeps power and boot device in memory; this subclass
hands them to each machine's chassis script (tests/lab/bmc-vm.sh, the same one the
ipmi_sim BMCs use), so a Redfish Reset starts or stops QEMU and the boot override picks
network or disk boot. The map from system name to chassis script is a JSON file named by
$IRONBOX_REDFISH_CHASSIS: {"<system name>": "/path/to/chassis.sh"}.

usage: redfish_vm.py --config <emulator.conf> -i 127.0.0.1 -p <port>
"""
import json
import os
import subprocess
import sys

from sushy_tools import error
from sushy_tools.emulator import main as emu_main
from sushy_tools.emulator.resources.systems import fakedriver

CHASSIS = json.load(open(os.environ["IRONBOX_REDFISH_CHASSIS"]))
# Redfish BootSourceOverrideTarget <-> the chassis script's IPMI-style boot device.
TO_CHASSIS = {"Pxe": "pxe", "Hdd": "default", "None": "default", "Cd": "cdrom",
              "BiosSetup": "bios"}
FROM_CHASSIS = {"pxe": "Pxe", "default": "Hdd", "none": "Hdd", "cdrom": "Cd",
                "bios": "BiosSetup"}


def chassis(name, *args):
    out = subprocess.run([CHASSIS[name], *args], capture_output=True, text=True,
                         check=False)
    if out.returncode != 0:
        raise error.FishyError("chassis %s %s failed: %s" % (name, args, out.stdout))
    return out.stdout.strip()


class QemuDriver(fakedriver.FakeDriver):
    @property
    def driver(self):
        return "<ironbox-qemu>"

    def get_power_state(self, identity):
        on = chassis(self.name(identity), "get", "power") == "power:1"
        return "On" if on else "Off"

    def set_power_state(self, identity, state):
        name = self.name(identity)
        if state in ("On", "ForceOn"):
            chassis(name, "set", "power", "1")
        elif state in ("ForceOff", "GracefulShutdown"):
            chassis(name, "set", "power", "0")
        elif state in ("ForceRestart", "GracefulRestart", "PowerCycle"):
            chassis(name, "set", "reset", "1")
        else:
            raise error.NotSupportedError("Power state %s is not supported" % state)

    def get_boot_device(self, identity):
        dev = chassis(self.name(identity), "get", "boot").split(":", 1)[-1]
        return FROM_CHASSIS.get(dev, "Hdd")

    def set_boot_device(self, identity, boot_source):
        chassis(self.name(identity), "set", "boot", TO_CHASSIS.get(boot_source, "default"))


fakedriver.FakeDriver = QemuDriver
if "--fake" not in sys.argv:
    sys.argv.append("--fake")
sys.exit(emu_main.main())
