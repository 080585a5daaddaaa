-- 001: rules and their change log.
-- One row per rule; the 5-tuple is unique. revision is the global revision of the last change
-- to the row; created_revision the one that created it (created iff equal after an upsert).
-- stats_slot is the rule's index in the per-CPU counter array pcf_rule_stats: kept here so
-- a restarted control plane finds each rule's counters where they were. Unique by
-- construction (server/slots.ts is its only allocator); no index, to keep writes cheap.
CREATE TABLE flows (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  src_ip           TEXT    NOT NULL,
  dst_ip           TEXT    NOT NULL,
  src_port         INTEGER NOT NULL CHECK (src_port BETWEEN 0 AND 65535),
  dst_port         INTEGER NOT NULL CHECK (dst_port BETWEEN 0 AND 65535),
  proto            INTEGER NOT NULL CHECK (proto IN (1, 6, 17)),
  action_type      TEXT    NOT NULL CHECK (action_type IN ('PASS', 'DROP', 'REDIRECT')),
  ttl_delta        INTEGER CHECK (ttl_delta BETWEEN -128 AND 127),
  mark             INTEGER CHECK (mark BETWEEN 1 AND 4294967295),
  queue_id         INTEGER CHECK (queue_id BETWEEN 0 AND 63),
  snat_ip          TEXT,
  snat_port        INTEGER CHECK (snat_port BETWEEN 1 AND 65535),
  dnat_ip          TEXT,
  dnat_port        INTEGER CHECK (dnat_port BETWEEN 1 AND 65535),
  mirror           INTEGER NOT NULL CHECK (mirror IN (0, 1)),
  stats_slot       INTEGER NOT NULL CHECK (stats_slot >= 0),
  revision         INTEGER NOT NULL,
  created_revision INTEGER NOT NULL,
  created_at       TEXT    NOT NULL,
  updated_at       TEXT    NOT NULL,
  UNIQUE (src_ip, dst_ip, src_port, dst_port, proto)
);
-- WatchFlows replays "every rule changed after revision R" from this index.
CREATE INDEX flows_revision ON flows (revision);

-- Deleted rules, for WatchFlows: the rule as it was and the revision of its deletion. The
-- oldest are pruned; compacted_revision records up to where, so a watch asking for older
-- changes is refused instead of silently missing a deletion.
CREATE TABLE flow_tombstones (
  revision  INTEGER PRIMARY KEY,
  flow_id   INTEGER NOT NULL,
  flow_json TEXT    NOT NULL
);

CREATE TABLE watch_state (
  id                 INTEGER PRIMARY KEY CHECK (id = 1),
  compacted_revision INTEGER NOT NULL
);
INSERT INTO watch_state (id, compacted_revision) VALUES (1, 0);
