// maps.ts - the pinned maps of a pin dir read and written through the addon (native/index.ts),
// for the shell suites (test/bpf/test_loader.sh): no script packs a struct of pcf_common.h by
// hand. Run from the top of the repository:
//
//   node --import tsx test/tools/maps.ts PIN_DIR COMMAND [ARGS]
//     put-flow KEY ACTION   pcf_flow_map[KEY] = ACTION (FlowMap.upsertFlows), nothing else
//     put-rule KEY ACTION   as the control plane writes a rule: pcf_rule_stats[ACTION.statsSlot]
//                           zeroed first (RuleStatsMap.resetCounters), then put-flow
//     has-flow KEY          exit 0 when pcf_flow_map holds KEY, 1 when not
//     get-flow KEY          the action of KEY as JSON, null when absent (FlowMap.lookupFlow)
//     packets SLOT|all      packets of pcf_rule_stats[SLOT], or of every slot, summed over CPUs
//     config PORT           pcf_config[PORT] as JSON (ConfigMap.readConfig)
//     ports                 the ports with an interface, as a JSON array (ConfigMap.readPorts)
//
// KEY and ACTION are JSON objects of native/index.ts's FlowKey and FlowAction (an absent optional
// field of an action is null / 0 / false), e.g.
//   '{"srcIp":"198.18.0.1","dstIp":"198.18.0.254","srcPort":5001,"dstPort":7001,"proto":17}'
//   '{"ruleId":11,"statsSlot":0,"type":"PASS","mark":42}'
// Exit: 0 done, 1 the map operation failed (or has-flow: absent), 2 usage.
import { ConfigMap, FlowMap, RuleStatsMap, pinPaths, type FlowAction, type FlowKey } from '../../native/index.js';

function usage(why: string): never {
  process.stderr.write(`maps.ts: ${why}\nusage: maps.ts PIN_DIR put-flow|put-rule KEY ACTION | has-flow|get-flow KEY | packets SLOT|all | config PORT | ports\n`);
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

function run(pinDir: string, cmd: string, args: string[]): number {
  const paths = pinPaths(pinDir);
  switch (cmd) {
    case 'put-flow':
    case 'put-rule': {
      const key = json<FlowKey>('KEY', args[0]);
      const action = json<FlowAction>('ACTION', args[1]);
      if (cmd === 'put-rule') {
        const stats = RuleStatsMap.open(paths.ruleStats);
        try {
          stats.resetCounters(action.statsSlot);
        } finally {
          stats.close();
        }
      }
      const flows = FlowMap.open(paths.flowMap);
      try {
        flows.upsertFlows({ key, action });
      } finally {
        flows.close();
      }
      return 0;
    }
    case 'has-flow':
    case 'get-flow': {
      const flows = FlowMap.open(paths.flowMap);
      try {
        const action = flows.lookupFlow(json<FlowKey>('KEY', args[0]));
        if (cmd === 'has-flow') return action ? 0 : 1;
        console.log(JSON.stringify(action));
        return 0;
      } finally {
        flows.close();
      }
    }
    case 'packets': {
      const stats = RuleStatsMap.open(paths.ruleStats);
      try {
        const n = args[0] === 'all'
          ? stats.readCounters().reduce((sum, c) => sum + c.packets, 0)
          : stats.readCounter(uint('SLOT', args[0])).packets;
        console.log(n);
        return 0;
      } finally {
        stats.close();
      }
    }
    case 'config':
    case 'ports': {
      const config = ConfigMap.open(paths.config);
      try {
        console.log(JSON.stringify(cmd === 'ports' ? config.readPorts() : config.readConfig(uint('PORT', args[0]))));
        return 0;
      } finally {
        config.close();
      }
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
