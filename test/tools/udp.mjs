// udp.mjs - bounded UDP traffic for the lab tests, run inside a namespace.
//   node udp.mjs send <dst_ip> <dst_port> <src_port> <count> [gap_ms] [bytes]  -> {"sent":n}
//   node udp.mjs recv <port> <max_ms>     -> {"received":n,"from":{...},"longest_gap":k}
//     longest_gap: the longest run of sequence numbers ("pcf <i>") missing between two that came
// IPv4 or IPv6 by the destination; recv listens on both. [bytes]: the payload size (over the
// MTU the datagram leaves as IP fragments).
// Both stop by themselves: send after <count> datagrams, recv on SIGTERM or after max_ms.
import dgram from 'node:dgram';

const [mode, ...a] = process.argv.slice(2);
if (mode === 'send') {
  const [ip, port, sport, count, gap = '0', bytes = '0'] = a;
  const n = Math.min(Number(count), 1_000_000);
  const size = Math.min(Number(bytes), 60_000);
  const s = dgram.createSocket(ip.includes(':') ? 'udp6' : 'udp4');
  s.bind(Number(sport), async () => {
    for (let i = 0; i < n; i++) {
      const text = Buffer.from(`pcf ${i}`);
      const payload = size > text.length ? Buffer.concat([text, Buffer.alloc(size - text.length, 0x2e)]) : text;
      await new Promise((r) => s.send(payload, Number(port), ip, r));
      if (Number(gap) > 0) await new Promise((r) => setTimeout(r, Number(gap)));
    }
    s.close();
    console.log(JSON.stringify({ sent: n }));
  });
} else if (mode === 'recv') {
  const [port, max] = a.map(Number);
  const socks = [dgram.createSocket('udp4'), dgram.createSocket({ type: 'udp6', ipv6Only: true })];
  let received = 0;
  const from = {};
  const seen = new Set();
  const done = () => {
    for (const s of socks) s.close();
    const seqs = [...seen].sort((x, y) => x - y);
    let longest_gap = 0;
    for (let i = 1; i < seqs.length; i++) longest_gap = Math.max(longest_gap, seqs[i] - seqs[i - 1] - 1);
    console.log(JSON.stringify({ received, from, longest_gap }));
    process.exit(0);
  };
  for (const s of socks) {
    s.on('message', (m, rinfo) => {
      received++;
      const seq = /^pcf (\d+)/.exec(m.subarray(0, 16).toString('latin1'));
      if (seq) seen.add(Number(seq[1]));
      const k = `${rinfo.address}:${rinfo.port}`;
      from[k] = (from[k] ?? 0) + 1;
    });
  }
  process.on('SIGTERM', done);
  let bound = 0;
  for (const s of socks) {
    s.bind(port, () => {
      if (++bound < socks.length) return;
      console.error('ready');
      setTimeout(done, max).unref();
    });
  }
} else {
  console.error('usage: udp.mjs send <ip> <port> <sport> <count> [gap_ms] | recv <port> <max_ms>');
  process.exit(2);
}
