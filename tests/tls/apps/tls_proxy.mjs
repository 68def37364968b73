// A TLS-terminating proxy (Node's tls module) in front of a plaintext server, for the MongoDB
// wire server (CongoDB has no TLS): node tls_proxy.mjs CERT KEY UPSTREAM_PORT; prints its port.
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';

const [cert, key, upstream] = process.argv.slice(2);
const server = tls.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) }, (c) => {
  const u = net.connect(Number(upstream), '127.0.0.1');
  c.pipe(u);
  u.pipe(c);
  c.on('error', () => u.destroy());
  u.on('error', () => c.destroy());
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
