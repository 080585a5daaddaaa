-- 003: PCC rules (TS 29.512 PccRule, as PCF logic holds them): a precedence, flow
-- descriptions with their directions (TS 29.212 §5.4.2), an action and an optional UE
-- address. Each filter becomes one or two matches, each stored as a flow owned by the PCC
-- rule (pcc_rule_id, filter_index): the classifier and the counters see flows only, and a
-- PCC rule is applied, replaced and deleted as one commit of its flows.
CREATE TABLE pcc_rules (
  id          TEXT    PRIMARY KEY,
  precedence  INTEGER NOT NULL CHECK (precedence BETWEEN 0 AND 4294967295),
  ue_ip       TEXT,
  action_json TEXT    NOT NULL,
  flow_infos_json TEXT NOT NULL,
  revision    INTEGER NOT NULL,
  created_at  TEXT    NOT NULL,
  updated_at  TEXT    NOT NULL
);

ALTER TABLE flows ADD COLUMN pcc_rule_id TEXT;
ALTER TABLE flows ADD COLUMN filter_index INTEGER CHECK (filter_index >= 0);
CREATE INDEX flows_pcc_rule ON flows (pcc_rule_id) WHERE pcc_rule_id IS NOT NULL;

-- A rule given as a flow description (POST /flows or a PCC rule's filter) keeps the text and
-- direction it came from, so GET shows both forms.
ALTER TABLE flows ADD COLUMN flow_description TEXT;
ALTER TABLE flows ADD COLUMN flow_direction TEXT CHECK (flow_direction IN ('DOWNLINK', 'UPLINK', 'BIDIRECTIONAL', 'UNSPECIFIED'));
