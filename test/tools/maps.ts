// maps.ts - the pinned maps of a pin dir read and written through the addon (native/index.ts),
// for the shell suites (test/bpf/test_loader.sh, dpdk/test_worker.sh): no script packs a struct
// of pcf_common.h by hand. Run from the top of the repository:
//
//   node --import tsx test/tools/maps.ts PIN_DIR COMMAND [ARGS]
//     put-flow KEY ACTION   pcf_flow_map[KEY] = ACTION (FlowMap.upsertFlows), nothing else
//     put-rule KEY ACTION   as the control plane writes a rule: pcf_rule_stats[ACTION.statsSlot]
//                           zeroed first (RuleStatsMap.resetCounters), then put-flow
//     has-flow KEY          exit 0 when pcf_flow_map holds KEY, 1 when not
//     get-flow KEY          the action of KEY as JSON, null when absent (FlowMap.lookupFlow)
//     packets SLOT|all      packets of pcf_rule_stats[SLOT], or of every slot, summed over CPUs
//     xdp-packets NAME      packets of the XDP counter NAME (pcf_stats, e.g. redirect_fallback),
//                           summed over CPUs (StatsMap.readCounters)
//     config ATTACHMENT     pcf_config[ATTACHMENT] as JSON (ConfigMap.readConfig)
//     attachments           the attachments with an interface, as a JSON array
//                           (ConfigMap.readAttachments)
//     rule-slot RULE_ID     the stats_slot of the live rule with a precedence RULE_ID (pcf_rules,
//                           RuleSet.readRule); exit 1 when no live rule has that id
//     nat6 SLOT             pcf_nat6[SLOT] as JSON, {"snatIp", "dnatIp"} (null: keep the
//                           packet's address) (RuleSet.readNat6)
//     no-exact true|false   pcf_ruleset.no_exact (RuleSet.setNoExact): false before an exact
//                           entry is written behind a control plane that has none (XDP skips
//                           pcf_flow_map while it is true)
//
// KEY and ACTION are JSON objects of native/index.ts's FlowKey and FlowAction; an absent
// optional field of an action is null / 0 / false, e.g.
//   '{"srcIp":"198.18.0.1","dstIp":"198.18.0.254","srcPort":5001,"dstPort":7001,"proto":17}'
//   '{"ruleId":11,"statsSlot":0,"type":"PASS","mark":42}'
//   '{"ruleId":42,"statsSlot":42,"type":"REDIRECT","ttlDelta":-5,"dnatIp":"198.18.1.1","dnatPort":7001}'
// Exit: 0 done, 1 the map operation failed (or has-flow, rule-slot: not found), 2 usage.
import { ConfigMap, FlowMap, RuleSet, RuleStatsMap, StatsMap, counterNames, pinPaths, type FlowAction, type FlowKey } from '../../native/index.js';

const USAGE = 'usage: maps.ts PIN_DIR put-flow|put-rule KEY ACTION | has-flow|get-flow KEY | packets SLOT|all | xdp-packets NAME'
  + ' | config ATTACHMENT | attachments | rule-slot RULE_ID | nat6 SLOT | no-exact true|false';

function usage(why: string): never {
  process.stderr.write(`maps.ts: ${why}\n${USAGE}\n`);
  process.exit(2);
}

function json<T>(what: string, text: string | undefined): T {
  if (text === undefined) usage(`${what} missing`);
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    return usage(`${what} is not JSON: ${(e as Error).message}`);
  }
}

function uint(what: string, text: string | undefined): number {
  if (text === undefined || !/^[0-9]+$/.test(text)) usage(`${what} must be a number`);
  return Number(text);
}

/** ACTION with its absent optional fields filled in (null / 0 / false). */
function action(text: string | undefined): FlowAction {
  const a = json<Partial<FlowAction>>('ACTION', text);
  return { ttlDelta: 0, mark: null, queueId: null, snatIp: null, snatPort: null, dnatIp: null, dnatPort: null, mirror: false, ...a } as FlowAction;
}

/** Opens a map (or the rule set), runs fn on it and closes it. */
function using<T extends { close(): void }, R>(open: () => T, fn: (m: T) => R): R {
  const m = open();
  try {
    return fn(m);
  } finally {
    m.close();
  }
}

function run(pinDir: string, cmd: string, args: string[]): number {
  const paths = pinPaths(pinDir);
  const expectArgs = (n: number) => {
    if (args.length > n) usage(`${cmd}: unexpected argument ${JSON.stringify(args[n])}`);
  };
  switch (cmd) {
    case 'put-flow':
    case 'put-rule': {
      expectArgs(2);
      const key = json<FlowKey>('KEY', args[0]);
      const act = action(args[1]);
      if (cmd === 'put-rule') using(() => RuleStatsMap.open(paths.ruleStats), (s) => s.resetCounters(act.statsSlot));
      using(() => FlowMap.open(paths.flowMap), (f) => f.upsertFlows({ key, action: act }));
      return 0;
    }
    case 'has-flow':
    case 'get-flow': {
      expectArgs(1);
      const found = using(() => FlowMap.open(paths.flowMap), (f) => f.lookupFlow(json<FlowKey>('KEY', args[0])));
      if (cmd === 'has-flow') return found ? 0 : 1;
      console.log(JSON.stringify(found));
      return 0;
    }
    case 'packets': {
      expectArgs(1);
      const all = args[0] === 'all';
      const slot = all ? 0 : uint('SLOT', args[0]);
      console.log(using(() => RuleStatsMap.open(paths.ruleStats), (s) =>
        all ? s.readCounters().reduce((sum, c) => sum + c.packets, 0) : s.readCounter(slot).packets));
      return 0;
    }
    case 'xdp-packets': {
      expectArgs(1);
      const name = args[0];
      if (!name || !counterNames.includes(name)) usage(`NAME must be one of ${counterNames.join(', ')}`);
      console.log(using(() => StatsMap.open(paths.stats), (s) => s.readCounters()[name].packets));
      return 0;
    }
    case 'config': {
      expectArgs(1);
      const attachment = uint('ATTACHMENT', args[0]);
      console.log(JSON.stringify(using(() => ConfigMap.open(paths.config), (c) => c.readConfig(attachment))));
      return 0;
    }
    case 'attachments':
      expectArgs(0);
      console.log(JSON.stringify(using(() => ConfigMap.open(paths.config), (c) => c.readAttachments())));
      return 0;
    case 'rule-slot': {
      expectArgs(1);
      const id = uint('RULE_ID', args[0]);
      const slot = using(() => new RuleSet(pinDir), (rs) => rs.liveSlots().find((s) => rs.readRule(s)?.body.ruleId === id));
      if (slot === undefined) {
        process.stderr.write(`maps.ts rule-slot: no live rule with a precedence has id ${id} in ${pinDir}\n`);
        return 1;
      }
      console.log(slot);
      return 0;
    }
    case 'nat6': {
      expectArgs(1);
      const slot = uint('SLOT', args[0]);
      console.log(JSON.stringify(using(() => new RuleSet(pinDir), (rs) => rs.readNat6(slot))));
      return 0;
    }
    case 'no-exact': {
      expectArgs(1);
      if (args[0] !== 'true' && args[0] !== 'false') usage('no-exact takes true or false');
      using(() => new RuleSet(pinDir), (rs) => rs.setNoExact(args[0] === 'true'));
      return 0;
    }
    default:
      return usage(`unknown command ${JSON.stringify(cmd)}`);
  }
}

const [pinDir, cmd, ...args] = process.argv.slice(2);
if (!pinDir || !cmd) usage('PIN_DIR and COMMAND needed');
try {
  process.exitCode = run(pinDir, cmd, args);
} catch (e) {
  process.stderr.write(`maps.ts ${cmd}: ${(e as Error).message}\n`);
  process.exitCode = 1;
}
