-- 004: flows and pcc_rules without their CHECK constraints (ranges and enums of ports,
-- protocol, precedence, action type, TTL delta, mark, queue, NAT ports, mirror, slot, filter
-- index, flow direction). openapi.yaml is the one schema of a rule's fields: REST and gRPC
-- requests and callers of the service are checked against it, and server/validate.ts checks
-- what it cannot say, before anything is written; the CHECKs were a fourth copy of those
-- ranges, and a large part of an insert's cost (100,000 INSERTs of exact rules in one
-- transaction: 5.5 µs per row with them, 3.2 µs without). NOT NULL, UNIQUE, the indexes,
-- every row and id, and the AUTOINCREMENT sequence (ids are never reused) stay as they were.
-- watch_state keeps its CHECK (id = 1): it is the one-row rule of that table, not a range.
CREATE TABLE flows_004 (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  match_key        TEXT    NOT NULL UNIQUE,
  family           INTEGER,
  src              TEXT,
  dst              TEXT,
  src_port_lo      INTEGER,
  src_port_hi      INTEGER,
  dst_port_lo      INTEGER,
  dst_port_hi      INTEGER,
  proto            INTEGER,
  precedence       INTEGER,
  action_type      TEXT    NOT NULL,
  ttl_delta        INTEGER,
  mark             INTEGER,
  queue_id         INTEGER,
  snat_ip          TEXT,
  snat_port        INTEGER,
  dnat_ip          TEXT,
  dnat_port        INTEGER,
  mirror           INTEGER NOT NULL,
  stats_slot       INTEGER NOT NULL,
  revision         INTEGER NOT NULL,
  created_revision INTEGER NOT NULL,
  created_at       TEXT    NOT NULL,
  updated_at       TEXT    NOT NULL,
  pcc_rule_id      TEXT,
  filter_index     INTEGER,
  flow_description TEXT,
  flow_direction   TEXT
);

INSERT INTO flows_004 (id, match_key, family, src, dst, src_port_lo, src_port_hi, dst_port_lo, dst_port_hi,
    proto, precedence, action_type, ttl_delta, mark, queue_id, snat_ip, snat_port, dnat_ip, dnat_port,
    mirror, stats_slot, revision, created_revision, created_at, updated_at,
    pcc_rule_id, filter_index, flow_description, flow_direction)
  SELECT id, match_key, family, src, dst, src_port_lo, src_port_hi, dst_port_lo, dst_port_hi,
    proto, precedence, action_type, ttl_delta, mark, queue_id, snat_ip, snat_port, dnat_ip, dnat_port,
    mirror, stats_slot, revision, created_revision, created_at, updated_at,
    pcc_rule_id, filter_index, flow_description, flow_direction
  FROM flows;

-- AUTOINCREMENT keeps counting where 003's table was (past deleted ids too, as in 002).
UPDATE sqlite_sequence SET seq = (SELECT seq FROM sqlite_sequence WHERE name = 'flows') WHERE name = 'flows_004';
INSERT INTO sqlite_sequence (name, seq)
  SELECT 'flows_004', seq FROM sqlite_sequence WHERE name = 'flows'
  AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'flows_004');

DROP TABLE flows;
ALTER TABLE flows_004 RENAME TO flows;
CREATE INDEX flows_revision ON flows (revision);
CREATE INDEX flows_pcc_rule ON flows (pcc_rule_id) WHERE pcc_rule_id IS NOT NULL;

CREATE TABLE pcc_rules_004 (
  id              TEXT    PRIMARY KEY,
  precedence      INTEGER NOT NULL,
  ue_ip           TEXT,
  action_json     TEXT    NOT NULL,
  flow_infos_json TEXT    NOT NULL,
  revision        INTEGER NOT NULL,
  created_at      TEXT    NOT NULL,
  updated_at      TEXT    NOT NULL
);
INSERT INTO pcc_rules_004 (id, precedence, ue_ip, action_json, flow_infos_json, revision, created_at, updated_at)
  SELECT id, precedence, ue_ip, action_json, flow_infos_json, revision, created_at, updated_at FROM pcc_rules;
DROP TABLE pcc_rules;
ALTER TABLE pcc_rules_004 RENAME TO pcc_rules;
