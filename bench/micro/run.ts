/**
 * Runs every micro-benchmark in this folder, or the ones named on the command
 * line: `npm run bench:micro -- rtp stun`.
 */
const all: Record<string, () => Promise<{ run(): void }>> = {
  rtp: () => import('./rtp.js'),
  stun: () => import('./stun.js'),
  codecs: () => import('./codecs.js'),
  rtcp: () => import('./rtcp.js'),
  srtp: () => import('./srtp.js'),
  feedback: () => import('./feedback.js'),
  forward: () => import('./forward.js'),
};

const wanted = process.argv.slice(2);
for (const [name, load] of Object.entries(all)) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  const mod = await load();
  mod.run();
}
