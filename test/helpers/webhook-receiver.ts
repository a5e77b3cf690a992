// A webhook receiver on 127.0.0.1 for the interop tests: every event sfud
// posts, parsed, in arrival order.
import { createServer } from 'node:http';
import { once } from 'node:events';

/** A webhook receiver on 127.0.0.1: the events, in arrival order. */
export async function hookReceiver(): Promise<{ url: string; events: { event: string; room?: { sid: string }; participant?: { uid: string } }[]; close(): void }> {
  const events: { event: string; room?: { sid: string }; participant?: { uid: string } }[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      events.push(JSON.parse(body) as (typeof events)[number]);
      res.writeHead(200).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`,
    events,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}
