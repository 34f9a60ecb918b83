-- 0004: DHCP leases of the built-in server in full mode. A lease is offered (short hold
-- while the client decides), bound (granted), or declined (address in use elsewhere; held
-- until it expires). Times are Unix seconds.

CREATE TABLE dhcp_leases (
    ip          TEXT PRIMARY KEY,
    mac         TEXT NOT NULL,
    state       TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX dhcp_leases_mac ON dhcp_leases(mac);
