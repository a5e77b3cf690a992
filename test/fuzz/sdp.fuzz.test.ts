// Property-based fuzzing of the SDP layer: parseSessionDescription either
// returns a description or throws SfuError ERR_SFUD_SDP, for arbitrary strings,
// SDP-shaped line soup, and real offers (test/fixtures/sdp/, see
// test/unit/sdp-parse.test.ts for how they were captured) with lines deleted,
// duplicated, swapped and numbers changed; createPublisherAnswer on anything
// that parsed throws nothing but SfuError, and its answer parses again.
import t from 'tap';
import fc from 'fast-check';
import { readFileSync, readdirSync } from 'node:fs';
import { SfuError } from '../../src/errors.js';
import { createPublisherAnswer, parseSessionDescription, type ParsedSessionDescription, type PublisherAnswerLocal } from '../../src/signal/sdp/index.js';
import { FIXTURES } from '../helpers/paths.js';

const NUM_RUNS = 10_000;
const dir = `${FIXTURES}sdp/`;
const fixtures = readdirSync(dir)
  .filter((f) => f.endsWith('.sdp'))
  .map((f) => readFileSync(dir + f, 'utf8'));

const LOCAL: PublisherAnswerLocal = {
  ice: { usernameFragment: 'sfudUfrag', password: 'sfudPasswordSfudPassword' },
  candidates: [{ foundation: 'udp4', priority: 2130706431, address: '127.0.0.1', port: 5000, protocol: 'udp', type: 'host' }],
  fingerprint: { algorithm: 'sha-256', value: Array.from({ length: 32 }, () => 'AB').join(':') },
  sessionId: '1',
};

function isSdpError(err: unknown): boolean {
  return err instanceof SfuError && err.code === 'ERR_SFUD_SDP';
}

/** parse -> answer -> parse the answer; rethrows any error that is not an SfuError where one is allowed. */
function survives(sdp: string, onParsed?: () => void): boolean {
  let desc: ParsedSessionDescription;
  try {
    desc = parseSessionDescription(sdp);
  } catch (err) {
    if (isSdpError(err)) return true;
    throw err;
  }
  onParsed?.();
  let answer: string;
  try {
    answer = createPublisherAnswer(desc, LOCAL).sdp;
  } catch (err) {
    if (err instanceof SfuError) return true;
    throw err;
  }
  // Our own answer must always be a description we can read back.
  parseSessionDescription(answer);
  return true;
}

const lineSoup = fc
  .array(
    fc.tuple(
      fc.constantFrom('v=', 'o=', 's=', 't=', 'm=', 'c=', 'a=', 'b=', 'x=', '', 'a=mid:', 'a=rtpmap:', 'a=fmtp:', 'a=rtcp-fb:', 'a=extmap:', 'a=ssrc:', 'a=ssrc-group:FID ', 'a=rid:', 'a=simulcast:', 'a=candidate:', 'a=group:BUNDLE ', 'a=ice-ufrag:', 'a=ice-pwd:', 'a=fingerprint:sha-256 ', 'a=setup:', 'a=msid:', 'a=sctp-port:', 'a=max-message-size:', 'm=audio 9 UDP/TLS/RTP/SAVPF ', 'm=video 0 UDP/TLS/RTP/SAVPF ', 'm=application 9 UDP/DTLS/SCTP '),
      fc.oneof(fc.string({ maxLength: 40 }), fc.stringMatching(/^[0-9 /;=a-z~,*:.-]{0,40}$/)),
    ),
    { maxLength: 40 },
  )
  .map((lines) => lines.map(([a, b]) => a + b).join('\r\n'));

type Mutation = { kind: 'delete' | 'duplicate' | 'swap' | 'number' | 'truncate'; at: number; other: number; value: string };
const mutation: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom('delete', 'duplicate', 'swap', 'number', 'number', 'truncate'),
  at: fc.nat(),
  other: fc.nat(),
  value: fc.oneof(
    fc.constantFrom('0', '-1', '', '65536', '4294967296', '99999999999999999999', '1e3', 'NaN', '127', '128', '15', '255', '256'),
    fc.nat().map(String),
  ),
});

function mutate(sdp: string, mutations: readonly Mutation[]): string {
  const lines = sdp.split('\r\n');
  for (const m of mutations) {
    if (lines.length === 0) break;
    const i = m.at % lines.length;
    const j = m.other % lines.length;
    switch (m.kind) {
      case 'delete':
        lines.splice(i, 1);
        break;
      case 'duplicate':
        lines.splice(j, 0, lines[i]!);
        break;
      case 'swap': {
        const a = lines[i]!;
        lines[i] = lines[j]!;
        lines[j] = a;
        break;
      }
      case 'number': {
        // Replace the n-th run of digits in the line.
        let n = 0;
        const target = m.other % 4;
        lines[i] = lines[i]!.replace(/\d+/g, (d) => (n++ === target ? m.value : d));
        break;
      }
      case 'truncate':
        lines[i] = lines[i]!.slice(0, m.other % (lines[i]!.length + 1));
        break;
    }
  }
  return lines.join('\r\n');
}

t.test('arbitrary strings: a description or ERR_SFUD_SDP, nothing else', async (t) => {
  fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 600 }), (s) => survives(s)), { numRuns: NUM_RUNS });
  fc.assert(fc.property(lineSoup, (s) => survives(s)), { numRuns: NUM_RUNS });
  t.pass('no other throw');
});

t.test('mutated real offers: parse and answer only ever throw SfuError', async (t) => {
  let parsed = 0;
  fc.assert(
    fc.property(fc.nat({ max: fixtures.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 6 }), (f, muts) => {
      return survives(mutate(fixtures[f]!, muts), () => parsed++);
    }),
    { numRuns: NUM_RUNS },
  );
  t.ok(parsed > NUM_RUNS / 10, `${parsed} mutated offers still parsed, so answers were fuzzed too`);
});

t.test('unmutated fixtures survive', async (t) => {
  for (const f of fixtures) t.ok(survives(f));
});
