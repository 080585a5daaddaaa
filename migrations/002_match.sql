-- 002: a rule matches prefixes, port ranges and a protocol (any of them absent = any), over
-- IPv4 or IPv6, and has an optional precedence (lower wins; null only for an exact IPv4
-- 5-tuple, which ranks above every rule with a precedence: xdp/README.md, Classifier).
-- match_key is the rule's identity (server/match.ts matchKeyString): the same match is the
-- same rule, so POST of it updates. Every rule of 001 is an exact 5-tuple: host prefixes,
-- single ports (none for ICMP), its protocol; its id, slot and revisions stay.
CREATE TABLE flows_002 (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  match_key        TEXT    NOT NULL UNIQUE,
  family           INTEGER CHECK (family IN (4, 6)),
  src              TEXT,
  dst              TEXT,
  src_port_lo      INTEGER CHECK (src_port_lo BETWEEN 0 AND 65535),
  src_port_hi      INTEGER CHECK (src_port_hi BETWEEN src_port_lo AND 65535),
  dst_port_lo      INTEGER CHECK (dst_port_lo BETWEEN 0 AND 65535),
  dst_port_hi      INTEGER CHECK (dst_port_hi BETWEEN dst_port_lo AND 65535),
  proto            INTEGER CHECK (proto BETWEEN 0 AND 255),
  precedence       INTEGER CHECK (precedence BETWEEN 0 AND 4294967295),
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
  updated_at       TEXT    NOT NULL
);

INSERT INTO flows_002 (id, match_key, family, src, dst, src_port_lo, src_port_hi, dst_port_lo, dst_port_hi,
    proto, precedence, action_type, ttl_delta, mark, queue_id, snat_ip, snat_port, dnat_ip, dnat_port,
    mirror, stats_slot, revision, created_revision, created_at, updated_at)
  SELECT id,
    '4|' || src_ip || '/32|' || dst_ip || '/32|'
      || CASE WHEN proto = 1 THEN '*|*' ELSE src_port || '-' || src_port || '|' || dst_port || '-' || dst_port END
      || '|' || proto,
    4, src_ip || '/32', dst_ip || '/32',
    CASE WHEN proto = 1 THEN NULL ELSE src_port END, CASE WHEN proto = 1 THEN NULL ELSE src_port END,
    CASE WHEN proto = 1 THEN NULL ELSE dst_port END, CASE WHEN proto = 1 THEN NULL ELSE dst_port END,
    proto, NULL, action_type, ttl_delta, mark, queue_id, snat_ip, snat_port, dnat_ip, dnat_port,
    mirror, stats_slot, revision, created_revision, created_at, updated_at
  FROM flows;

-- AUTOINCREMENT keeps counting where 001's table was: ids are never reused.
UPDATE sqlite_sequence SET seq = (SELECT seq FROM sqlite_sequence WHERE name = 'flows') WHERE name = 'flows_002';
INSERT INTO sqlite_sequence (name, seq)
  SELECT 'flows_002', seq FROM sqlite_sequence WHERE name = 'flows'
  AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'flows_002');

DROP TABLE flows;
ALTER TABLE flows_002 RENAME TO flows;
CREATE INDEX flows_revision ON flows (revision);

-- Tombstones keep the rule as the API showed it; 001's have only `key`. Give them the match
-- the API shows now, so a replayed DELETE looks like any other.
UPDATE flow_tombstones SET flow_json = json_set(flow_json,
    '$.match', json_object('src', json_extract(flow_json, '$.key.src_ip') || '/32',
                           'dst', json_extract(flow_json, '$.key.dst_ip') || '/32',
                           'proto', json_extract(flow_json, '$.key.proto')),
    '$.precedence', json('null'))
  WHERE json_extract(flow_json, '$.match') IS NULL;
UPDATE flow_tombstones SET flow_json = json_set(flow_json,
    '$.match.src_ports', json_extract(flow_json, '$.key.src_port'),
    '$.match.dst_ports', json_extract(flow_json, '$.key.dst_port'))
  WHERE json_extract(flow_json, '$.key.proto') != 1 AND json_extract(flow_json, '$.match.src_ports') IS NULL;
