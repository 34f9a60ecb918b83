-- 0013: where a member's JSON-RPC listener is reached ("host:port"), so the others can
-- forward the work on its nodes to it. NULL: the member takes no RPC (rpc_transport none).

ALTER TABLE conductors ADD COLUMN rpc_address TEXT;
