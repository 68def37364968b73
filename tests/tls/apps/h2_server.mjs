// An HTTP/2 server over TLS (Node's http2): node h2_server.mjs CERT KEY; prints its port.
import fs from 'node:fs';
import http2 from 'node:http2';

const server = http2.createSecureServer({ cert: fs.readFileSync(process.argv[2]), key: fs.readFileSync(process.argv[3]) });
server.on('stream', (stream) => {
  stream.respond({ ':status': 200, 'content-type': 'text/plain' });
  stream.end('hello over h2\n');
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
