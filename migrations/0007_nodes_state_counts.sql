-- The /metrics node gauges count nodes by (provision_state, power_state, maintenance) at
-- every scrape: with this covering index the grouped count reads the index alone, in
-- group order, instead of looking up 10,000 rows. It also serves every lookup by
-- provision_state (its first column), so the single-column index goes.
CREATE INDEX nodes_state_counts ON nodes(provision_state, power_state, maintenance);
DROP INDEX nodes_provision_state;
