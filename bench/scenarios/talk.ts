/**
 * The meeting's talk schedule, pure: which audio level (-dBov, RFC 6464: 0
 * loudest, 127 silence) participant `i` of `m` writes at time `tMs`. One main
 * speaker per turn, round robin; the next participant chimes in during the
 * first fifth of each turn (a short overlap, as real turn-taking has); the
 * rest send room noise well below ion-sfu's default speaking threshold (40).
 * Servers that track audio levels (sfud's audioLevels, Janus's talking events)
 * then see speakers change every turn.
 */
export const TALK = { speaker: 20, chiming: 35, background: 100 } as const;

export function talkLevel(i: number, m: number, tMs: number, turnMs = 3000): number {
  if (m <= 0 || tMs < 0) return TALK.background;
  const turn = Math.floor(tMs / turnMs);
  const speaker = turn % m;
  if (i === speaker) return TALK.speaker;
  const intoTurn = tMs - turn * turnMs;
  if (m > 1 && i === (speaker + 1) % m && intoTurn < turnMs / 5) return TALK.chiming;
  return TALK.background;
}
