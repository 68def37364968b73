// A MongoDB-wire server for the wire tests: CongoDB (from the npm package @push.rocks/smartmongo,
// unpacked next to this file by tests/wire/servers.py), in memory, on 127.0.0.1 and a free
// port, printed as JSON on the first line of stdout.
import { CongoServer } from './smartmongo/package/dist_ts/congodb/index.js';

const server = new CongoServer({ host: '127.0.0.1', port: 0, storage: 'memory' });
await server.start();
console.log(JSON.stringify({ port: server.server.address().port }));
