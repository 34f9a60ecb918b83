#!/usr/bin/env python3
"""serial-relay.py BMC_PORT VM_PORT: joins a simulated BMC's SOL to a QEMU VM's COM1.

ipmi_sim's `sol "tcp:127.0.0.1:BMC_PORT"` connects here once and stays; every power-on
starts a new QEMU whose COM1 connects as a client to VM_PORT (vm.sh VM_SERIAL_TCP). Bytes
are copied both ways between the newest connection of each side. Without this, ipmi_sim
would have to reach QEMU itself and, after each QEMU restart, retries only every 10 s
(measured), losing the first seconds of every boot. Listens on 127.0.0.1 only.
"""
import selectors
import socket
import sys


def listen(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(4)
    return s


def main():
    sel = selectors.DefaultSelector()
    conns = {"bmc": None, "vm": None}
    for side, port in (("bmc", int(sys.argv[1])), ("vm", int(sys.argv[2]))):
        sel.register(listen(port), selectors.EVENT_READ, ("listen", side))
    print("serial-relay: listening", flush=True)
    while True:
        for key, _ in sel.select():
            kind, side = key.data
            if kind == "listen":
                c, _ = key.fileobj.accept()
                old = conns[side]
                if old is not None:
                    sel.unregister(old)
                    old.close()
                conns[side] = c
                sel.register(c, selectors.EVENT_READ, ("conn", side))
                print(f"serial-relay: {side} connected", flush=True)
                continue
            c = key.fileobj
            try:
                data = c.recv(4096)
            except OSError:
                data = b""
            if not data:
                sel.unregister(c)
                c.close()
                if conns[side] is c:
                    conns[side] = None
                print(f"serial-relay: {side} closed", flush=True)
                continue
            other = conns["vm" if side == "bmc" else "bmc"]
            if other is not None:
                try:
                    other.sendall(data)
                except OSError:
                    pass


if __name__ == "__main__":
    main()
