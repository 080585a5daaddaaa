-- 005: settings of the node that are not rules, one JSON value per name. First: the packet
-- event choice (server/packet_events.ts, name 'packet_events'), which the control plane writes
-- into pcf_event_config whenever the maps appear.
CREATE TABLE settings (
  name  TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
