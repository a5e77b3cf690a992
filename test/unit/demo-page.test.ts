import t from 'tap';
import { readFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { createDemoHandler } from '../../src/signal/demo/handler.js';
import { DEMO_PAGE_HTML, renderDemoPage } from '../../src/signal/demo/page.js';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

async function startServer(handler: ReturnType<typeof createDemoHandler>): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    if (handler(req, res)) return;
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

// node:http's request() sends the path verbatim (no dot-segment removal),
// unlike fetch(), so traversal attempts really reach the handler.
function send(port: number, method: string, path: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const ionRoot = dirname(createRequire(import.meta.url).resolve('ion-sdk-js/package.json'));

t.test('demo handler', async (t) => {
  const { server, port } = await startServer(createDemoHandler());
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));

  t.test('GET / serves the page', async (t) => {
    for (const path of ['/', '/index.html', '/?room=abc']) {
      const r = await send(port, 'GET', path);
      t.equal(r.status, 200, path);
      t.equal(r.headers['content-type'], 'text/html; charset=utf-8');
      t.equal(r.headers['cache-control'], 'no-store');
      const html = r.body.toString('utf8');
      t.equal(Number(r.headers['content-length']), r.body.length);
      t.match(html, /<title>sfud demo<\/title>/);
      t.match(html, /<form id="join-form"/);
      t.match(html, /<label for="room">/);
      t.match(html, /<label for="uid">/);
      t.match(html, /<script src="\/vendor\/ion-sdk\.min\.js"><\/script>/);
      t.match(html, /<script src="\/vendor\/json-rpc\.min\.js"><\/script>/);
      t.match(html, /var WS_PATH = "\/ws";/);
      t.equal(html, DEMO_PAGE_HTML);
    }
  });

  t.test('vendor bundles are the package bytes', async (t) => {
    for (const [route, file] of [
      ['/vendor/ion-sdk.min.js', 'dist/ion-sdk.min.js'],
      ['/vendor/json-rpc.min.js', 'dist/json-rpc.min.js'],
    ] as const) {
      const r = await send(port, 'GET', route);
      t.equal(r.status, 200, route);
      t.equal(r.headers['content-type'], 'application/javascript');
      t.ok(r.body.equals(readFileSync(join(ionRoot, file))), `${route} bytes`);
    }
  });

  t.test('HEAD / has headers and no body', async (t) => {
    const r = await send(port, 'HEAD', '/');
    t.equal(r.status, 200);
    t.equal(r.headers['content-type'], 'text/html; charset=utf-8');
    t.equal(Number(r.headers['content-length']), Buffer.byteLength(DEMO_PAGE_HTML));
    t.equal(r.body.length, 0);
  });

  t.test('other requests are not handled', async (t) => {
    for (const [method, path] of [
      ['GET', '/vendor/../package.json'],
      ['GET', '/vendor/..%2Fpackage.json'],
      ['GET', '/vendor/grpc-web.min.js'],
      ['GET', '/nope'],
      ['GET', '/ws'],
      ['POST', '/'],
      ['PUT', '/vendor/ion-sdk.min.js'],
    ] as const) {
      const r = await send(port, method, path);
      t.equal(r.status, 404, `${method} ${path}`);
      t.equal(r.body.toString(), 'not found');
    }
  });
});

t.test('wsPath option is embedded safely', async (t) => {
  const { server, port } = await startServer(createDemoHandler({ wsPath: '/rtc/ws' }));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const r = await send(port, 'GET', '/');
  t.match(r.body.toString(), /var WS_PATH = "\/rtc\/ws";/);

  const evil = renderDemoPage('/x</script><script>alert(1)//"$&');
  t.notMatch(evil, /x<\/script>/);
  t.match(evil, /var WS_PATH = "\/x\\u003c\/script>\\u003cscript>alert\(1\)\/\/\\"\$&";/);
});
