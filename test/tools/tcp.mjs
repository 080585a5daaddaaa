// tcp.mjs - one bounded TCP exchange for the lab tests, run inside a namespace.
//   node tcp.mjs serve <port> <max_ms>                      echoes, exits after max_ms
//   node tcp.mjs connect <ip> <port> <src_port> <bytes> <timeout_ms>  -> {"ok":true,"echoed":n} | {"ok":false,"error":...}
import net from 'node:net';

const [mode, ...a] = process.argv.slice(2);
if (mode === 'serve') {
  const [port, max] = a.map(Number);
  const srv = net.createServer((c) => c.pipe(c));
  srv.listen(port, () => console.error('ready'));
  setTimeout(() => process.exit(0), max).unref();
} else if (mode === 'connect') {
  const [ip, port, sport, bytes, timeout] = a;
  const want = Number(bytes);
  let got = 0;
  const finish = (r) => {
    console.log(JSON.stringify(r));
    process.exit(0);
  };
  const c = net.connect({ host: ip, port: Number(port), localPort: Number(sport) }, () => c.end(Buffer.alloc(want, 0x61)));
  c.on('data', (d) => (got += d.length));
  c.on('end', () => finish({ ok: got === want, echoed: got }));
  c.on('error', (e) => finish({ ok: false, error: e.code ?? e.message }));
  setTimeout(() => { c.destroy(); finish({ ok: false, error: 'timeout', echoed: got }); }, Number(timeout)).unref();
} else {
  console.error('usage: tcp.mjs serve <port> <max_ms> | connect <ip> <port> <sport> <bytes> <timeout_ms>');
  process.exit(2);
}
