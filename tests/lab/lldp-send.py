#!/usr/bin/env python3
"""tests/lab/lldp-send.py — a switch's LLDP advertisements, crafted and sent on one interface.

    lldp-send.py IFACE CHASSIS_MAC PORT_ID SYSTEM_NAME VLAN [COUNT [INTERVAL]]

Sends COUNT (default 1; 0 = until killed) LLDPDUs, INTERVAL seconds apart (default 1), to
the nearest-bridge group 01:80:c2:00:00:0e from a made-up source MAC, through an AF_PACKET
socket (root; run it in the lab namespace). Sent on a VM's tap, the frame reaches the guest
as a switch port's would; a Linux bridge would not forward it. TLVs: chassis ID (MAC
address), port ID (interface name), TTL 120, system name, the IEEE 802.1 port VLAN ID and
VLAN name (the untagged VLAN), end. No scapy, no lldpd: only the standard library.
"""

import socket
import struct
import sys
import time

GROUP = bytes.fromhex("0180c200000e")
ETH_LLDP = 0x88CC
OUI_8021 = bytes.fromhex("0080c2")


def tlv(kind, value):
    if len(value) > 511:
        raise ValueError(f"TLV {kind} value too long")
    return struct.pack("!H", (kind << 9) | len(value)) + value


def lldpdu(chassis_mac, port_id, system_name, vlan):
    mac = bytes.fromhex(chassis_mac.replace(":", ""))
    name = f"vlan{vlan}".encode()
    return b"".join([
        tlv(1, b"\x04" + mac),                   # chassis ID, subtype 4: MAC address
        tlv(2, b"\x05" + port_id.encode()),      # port ID, subtype 5: interface name
        tlv(3, struct.pack("!H", 120)),          # TTL
        tlv(5, system_name.encode()),            # system name
        tlv(127, OUI_8021 + b"\x01" + struct.pack("!H", vlan)),   # port VLAN ID
        tlv(127, OUI_8021 + b"\x03" + struct.pack("!HB", vlan, len(name)) + name),
        tlv(0, b""),                             # end of LLDPDU
    ])


def main(argv):
    if len(argv) < 6:
        sys.exit(__doc__)
    iface, chassis, port_id, system_name, vlan = argv[1:6]
    count = int(argv[6]) if len(argv) > 6 else 1
    interval = float(argv[7]) if len(argv) > 7 else 1.0
    # A locally administered source MAC (the switch port's own).
    src = bytes.fromhex("020000") + bytes.fromhex(chassis.replace(":", ""))[-3:]
    frame = GROUP + src + struct.pack("!H", ETH_LLDP) + lldpdu(chassis, port_id, system_name,
                                                               int(vlan))
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    sent = 0
    while count == 0 or sent < count:
        s.send(frame)
        sent += 1
        if count == 0 or sent < count:
            time.sleep(interval)
    print(f"lldp-send: {sent} LLDPDU(s) sent on {iface}", flush=True)


if __name__ == "__main__":
    main(sys.argv)
