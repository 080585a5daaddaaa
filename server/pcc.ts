// pcc.ts - PCC rules (TS 29.512 PccRule as PCF logic holds them): validation of one PCC rule
// into the flows its filters become, and their table in SQLite. A filter (a flow description
// with its direction, TS 29.212 §5.4.2) becomes one or two matches; each match is one flow
// owned by the PCC rule, with the PCC rule's precedence and action. The service applies,
// replaces and deletes them as one commit.
import type Database from 'better-sqlite3';
import { ValidationError, type FieldError } from './errors.js';
import type { components } from './generated/openapi.js';
import { matchKeyString } from './match.js';
import type { FlowAction, FlowSpec } from './model.js';
import { isSchemaChecked, schemaErrors } from './schema.js';
import { checkFlowMeaning, descriptionMatches, type DatapathLimits } from './validate.js';

type PccRuleSpecBody = components['schemas']['PccRuleSpec'];

export interface FlowInfo {
  flow_description: string;
  flow_direction: string;
}

export interface PccRuleRow {
  id: string;
  precedence: number;
  ue_ip: string | null;
  action: FlowAction;
  flow_infos: FlowInfo[];
  revision: number;
  created_at: string;
  updated_at: string;
}

/**
 * The flows of a PCC rule, or a ValidationError naming each field at fault
 * (`flow_infos[1].flow_description: "10.0.0.0/33": prefix length over 32`). The id and the
 * body are checked against openapi.yaml (PccRuleId, PccRuleSpec) unless the body is marked
 * checked (schema.ts markSchemaChecked: REST's middleware and grpc.ts checked both). Two
 * filters that become the same match are one flow (the first filter owns it).
 */
export function pccFlows(id: string, raw: unknown, limits: DatapathLimits): { specs: FlowSpec[]; row: Omit<PccRuleRow, 'revision' | 'created_at' | 'updated_at'> } {
  if (!isSchemaChecked(raw)) {
    const errors = [...schemaErrors('PccRuleId', id, 'pcc_rule_id'), ...schemaErrors('PccRuleSpec', raw, '')];
    if (errors.length) throw new ValidationError(errors.slice(0, 20));
  }
  const body = raw as PccRuleSpecBody;
  const errors: FieldError[] = [];
  const c = { fail: (field: string, message: string) => errors.push({ field, message }) };
  const specs: FlowSpec[] = [];
  const seen = new Set<string>();
  let action: FlowAction | null = null;
  const flowInfos: FlowInfo[] = [];
  body.flow_infos.forEach((fi, i) => {
    const at = `flow_infos[${i}]`;
    const matches = descriptionMatches(c, fi.flow_description, fi.flow_direction, body.ue_ip, `${at}.flow_description`);
    flowInfos.push({ flow_description: fi.flow_description, flow_direction: fi.flow_direction ?? 'UNSPECIFIED' });
    for (const m of matches ?? []) {
      const r = checkFlowMeaning({ match: m, precedence: body.precedence, action: body.action }, limits);
      // The match came from the text: its errors are the filter's; the rest keep their names.
      for (const e of r.errors) c.fail(e.field.startsWith('match') ? `${at}.flow_description` : e.field, e.message);
      if (r.errors.length) continue;
      action ??= r.spec.action;
      const k = matchKeyString(r.spec.match);
      if (seen.has(k)) continue;
      seen.add(k);
      specs.push({ ...r.spec, owner: { pcc_rule_id: id, filter_index: i }, source: flowInfos[i] });
    }
  });
  if (errors.length) {
    // One error per field is enough (a filter read both ways repeats its action's errors).
    const unique = errors.filter((e, i) => errors.findIndex((x) => x.field === e.field && x.message === e.message) === i);
    throw new ValidationError(unique.slice(0, 20));
  }
  return { specs, row: { id, precedence: body.precedence, ue_ip: body.ue_ip ?? null, action: action!, flow_infos: flowInfos } };
}

interface Row {
  id: string;
  precedence: number;
  ue_ip: string | null;
  action_json: string;
  flow_infos_json: string;
  revision: number;
  created_at: string;
  updated_at: string;
}

const fromRow = (r: Row): PccRuleRow => ({
  id: r.id, precedence: r.precedence, ue_ip: r.ue_ip, action: JSON.parse(r.action_json), flow_infos: JSON.parse(r.flow_infos_json),
  revision: r.revision, created_at: r.created_at, updated_at: r.updated_at,
});

/** The pcc_rules table; writes run inside the service's transaction. */
export class PccStore {
  private readonly stmts;

  constructor(db: Database.Database) {
    this.stmts = {
      get: db.prepare<[string], Row>('SELECT * FROM pcc_rules WHERE id = ?'),
      put: db.prepare(`INSERT INTO pcc_rules (id, precedence, ue_ip, action_json, flow_infos_json, revision, created_at, updated_at)
        VALUES (@id, @precedence, @ue_ip, @action_json, @flow_infos_json, @revision, @created_at, @updated_at)
        ON CONFLICT (id) DO UPDATE SET precedence = excluded.precedence, ue_ip = excluded.ue_ip, action_json = excluded.action_json,
          flow_infos_json = excluded.flow_infos_json, revision = excluded.revision, updated_at = excluded.updated_at`),
      del: db.prepare<[string]>('DELETE FROM pcc_rules WHERE id = ?'),
      page: db.prepare<[string, number], Row>('SELECT * FROM pcc_rules WHERE id > ? ORDER BY id LIMIT ?'),
    };
  }

  get(id: string): PccRuleRow | undefined {
    const r = this.stmts.get.get(id);
    return r && fromRow(r);
  }

  put(r: Omit<PccRuleRow, 'created_at' | 'updated_at'> & { created_at?: string }, now: string): void {
    this.stmts.put.run({ id: r.id, precedence: r.precedence, ue_ip: r.ue_ip, action_json: JSON.stringify(r.action), flow_infos_json: JSON.stringify(r.flow_infos), revision: r.revision, created_at: r.created_at ?? now, updated_at: now });
  }

  delete(id: string): boolean {
    return this.stmts.del.run(id).changes > 0;
  }

  /** In id order after `cursor`; next_cursor is the last id when there may be more. */
  list(limit: number, cursor: string): { rules: PccRuleRow[]; next_cursor: string | null } {
    const rows = this.stmts.page.all(cursor, limit + 1).map(fromRow);
    const more = rows.length > limit;
    const rules = rows.slice(0, limit);
    return { rules, next_cursor: more ? rules[rules.length - 1].id : null };
  }
}
