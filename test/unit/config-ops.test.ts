// The operations flags: a separate metrics address, and the webhook URL and
// its signing secret (prefer the environment for the secret: flags show in `ps`).
import t from 'tap';
import { parseCli } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';

function run(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const a = parseCli(argv, env);
  if (a.kind !== 'run') throw new Error('expected a run');
  return a.config;
}

t.test('off by default', async (t) => {
  const c = run([]);
  t.equal(c.metricsListen, undefined);
  t.equal(c.webhookUrl, undefined);
  t.equal(c.webhookSecret, undefined);
});

t.test('--metrics-listen and SFUD_METRICS_LISTEN', async (t) => {
  t.same(run(['--metrics-listen', '127.0.0.1:8100']).metricsListen, { host: '127.0.0.1', port: 8100 });
  t.same(run([], { SFUD_METRICS_LISTEN: ':9100' }).metricsListen, { host: '127.0.0.1', port: 9100 });
  t.same(run(['--metrics-listen', '[::1]:8100'], { SFUD_METRICS_LISTEN: ':9100' }).metricsListen, { host: '::1', port: 8100 }, 'the flag wins');
  t.throws(() => run(['--metrics-listen', 'nope']), ConfigError);
});

t.test('--webhook-url and its secret (config/options.ts describes both)', async (t) => {
  const c = run(['--webhook-url', 'https://backend.example/hooks'], { SFUD_WEBHOOK_SECRET: 's3cret' });
  t.equal(c.webhookUrl, 'https://backend.example/hooks');
  t.equal(c.webhookSecret, 's3cret');
  t.equal(run([], { SFUD_WEBHOOK_URL: 'http://127.0.0.1:9/x', SFUD_WEBHOOK_SECRET: 'k' }).webhookUrl, 'http://127.0.0.1:9/x');
  t.throws(() => run(['--webhook-url', 'ftp://backend.example/'], { SFUD_WEBHOOK_SECRET: 'k' }), /http:\/\/ or https:\/\//);
  t.throws(() => run(['--webhook-url', 'not a url'], { SFUD_WEBHOOK_SECRET: 'k' }), ConfigError);
});
