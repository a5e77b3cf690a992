/**
 * Parsing a remote session description (RFC 8866 grammar via sdp-transform,
 * JSEP RFC 8829 and BUNDLE RFC 9143 semantics) into the plain objects of
 * `types.ts`.
 *
 * Remote SDP is untrusted input: sdp-transform is regex-based and returns
 * whatever its patterns captured (numbers where a value looks numeric, empty
 * strings, missing keys), so every value is type- and range-checked here.
 * Anything unusable throws `SfuError('ERR_SFUD_SDP')` naming the line or
 * attribute; nothing else is ever thrown.
 */
import * as sdpTransform from 'sdp-transform';
import { SfuError } from '../../errors.js';
import type { RtcpFeedback } from './capabilities.js';
import type {
  Direction,
  Fingerprint,
  IceCredentials,
  Msid,
  ParsedCandidate,
  ParsedCodec,
  ParsedExtension,
  ParsedRid,
  ParsedSection,
  ParsedSessionDescription,
  ParsedSimulcast,
  ParsedSsrc,
  ParsedSsrcGroup,
  SectionKind,
  SetupRole,
  SimulcastAlternative,
} from './types.js';

export const SDP_ERROR = 'ERR_SFUD_SDP';
/** Larger descriptions are refused before any parsing (a full Chromium offer is ~8 KiB). */
export const MAX_SDP_BYTES = 128 * 1024;

export function sdpError(message: string, cause?: unknown): SfuError {
  return new SfuError(SDP_ERROR, message, cause === undefined ? undefined : { cause });
}

/** A dictionary without a prototype, so keys such as `__proto__` from the wire stay plain data. */
export function dict(): Record<string, string> {
  return Object.create(null) as Record<string, string>;
}

/** sdp-transform turns numeric-looking captures into numbers; this undoes it losslessly. */
function str(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

function int(v: unknown, min: number, max: number, what: string): number {
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && /^\d{1,16}$/.test(v)) n = Number(v);
  else throw sdpError(`${what}: not a number (${JSON.stringify(String(v)).slice(0, 40)})`);
  if (!Number.isInteger(n) || n < min || n > max) throw sdpError(`${what}: ${n} is out of range ${min}-${max}`);
  return n;
}

function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? (v as unknown[]) : [];
}

function rec(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {};
}

const DIRECTIONS: readonly Direction[] = ['sendrecv', 'sendonly', 'recvonly', 'inactive'];
const SETUPS: readonly SetupRole[] = ['actpass', 'active', 'passive', 'holdconn'];
const ICE_UFRAG = /^[A-Za-z0-9+/]{4,256}$/;
const ICE_PWD = /^[A-Za-z0-9+/]{22,256}$/;
const FINGERPRINT_VALUE = /^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){15,63}$/;
const MAX_U32 = 0xffffffff;

function direction(v: unknown, where: string): Direction | undefined {
  if (v === undefined) return undefined;
  const d = DIRECTIONS.find((x) => x === v);
  if (!d) throw sdpError(`${where}: unknown direction ${String(v)}`);
  return d;
}

/** Lines of the description per block: index 0 is the session, then one per m-line (sdp-transform's split). */
function rawBlocks(sdp: string): string[][] {
  const blocks: string[][] = [[]];
  for (const line of sdp.split(/\r\n|\r|\n/)) {
    if (!/^[a-z]=/.test(line)) continue;
    if (line.startsWith('m=')) blocks.push([]);
    blocks[blocks.length - 1]!.push(line);
  }
  return blocks;
}

/** The value of every a=<name>: line of a block (sdp-transform keeps only the last fingerprint and the first ice-option). */
function attributeValues(lines: readonly string[], name: string): string[] {
  const prefix = `a=${name}:`;
  return lines.filter((l) => l.startsWith(prefix)).map((l) => l.slice(prefix.length));
}

function parseFingerprints(lines: readonly string[], where: string): Fingerprint[] {
  const out: Fingerprint[] = [];
  for (const line of lines.filter((l) => l.startsWith('a=fingerprint:'))) {
    const fp = rec(sdpTransform.parse(line).fingerprint);
    const algorithm = str(fp.type)?.toLowerCase();
    const value = str(fp.hash);
    if (!algorithm || !value || !FINGERPRINT_VALUE.test(value)) {
      throw sdpError(`${where}: malformed a=fingerprint line "${line.slice(0, 80)}"`);
    }
    out.push({ algorithm, value: value.toUpperCase() });
  }
  return out;
}

function parseIce(block: Record<string, unknown>, lines: readonly string[], where: string): IceCredentials | undefined {
  const ufrag = block.iceUfrag === undefined ? undefined : str(block.iceUfrag);
  const pwd = block.icePwd === undefined ? undefined : str(block.icePwd);
  if (ufrag === undefined && pwd === undefined) return undefined;
  if (ufrag === undefined || !ICE_UFRAG.test(ufrag)) throw sdpError(`${where}: bad or missing a=ice-ufrag`);
  if (pwd === undefined || !ICE_PWD.test(pwd)) throw sdpError(`${where}: bad or missing a=ice-pwd`);
  // NOTE: ice-options is a space-separated token list; sdp-transform captures only the first token.
  const options = attributeValues(lines, 'ice-options').flatMap((v) => v.split(/\s+/).filter((t) => t.length > 0));
  return { usernameFragment: ufrag, password: pwd, options };
}

function parseSetup(v: unknown, where: string): SetupRole | undefined {
  if (v === undefined) return undefined;
  const s = SETUPS.find((x) => x === v);
  if (!s) throw sdpError(`${where}: unknown a=setup value ${String(v)}`);
  return s;
}

function parseMsidValue(value: string): Msid | undefined {
  const [streamId, trackId] = value.trim().split(/\s+/);
  if (!streamId) return undefined;
  return trackId ? { streamId, trackId } : { streamId };
}

function feedbackOf(entry: Record<string, unknown>, where: string): RtcpFeedback {
  const type = str(entry.type);
  if (!type) throw sdpError(`${where}: a=rtcp-fb without a feedback type`);
  const parameter = str(entry.subtype);
  return parameter ? { type, parameter } : { type };
}

function parseCodecs(m: Record<string, unknown>, formats: readonly string[], where: string): ParsedCodec[] {
  const byPt = new Map<number, ParsedCodec>();
  for (const r of arr(m.rtp).map(rec)) {
    const pt = int(r.payload, 0, 127, `${where} a=rtpmap payload type`);
    const name = str(r.codec);
    if (!name) throw sdpError(`${where}: a=rtpmap:${pt} has no encoding name`);
    const clockRate = int(r.rate, 1, MAX_U32, `${where} a=rtpmap:${pt} clock rate`);
    if (byPt.has(pt)) throw sdpError(`${where}: duplicate a=rtpmap:${pt}`);
    // Only formats listed on the m-line are offered; stray rtpmaps are ignored.
    if (!formats.includes(String(pt))) continue;
    const codec: ParsedCodec = { payloadType: pt, name, clockRate, params: dict(), rtcpFeedback: [] };
    if (r.encoding !== undefined) codec.channels = int(r.encoding, 1, 255, `${where} a=rtpmap:${pt} channels`);
    byPt.set(pt, codec);
  }
  for (const f of arr(m.fmtp).map(rec)) {
    const pt = int(f.payload, 0, 127, `${where} a=fmtp payload type`);
    const codec = byPt.get(pt);
    if (!codec) continue;
    const config = str(f.config) ?? '';
    const params = sdpTransform.parseParams(config);
    for (const key of Object.keys(params)) {
      const k = key.trim();
      if (k) codec.params[k] = str(params[key]) ?? '';
    }
  }
  for (const fb of arr(m.rtcpFb).map(rec)) {
    if (fb.payload === '*') {
      const feedback = feedbackOf(fb, `${where} a=rtcp-fb:*`);
      for (const codec of byPt.values()) codec.rtcpFeedback.push({ ...feedback });
      continue;
    }
    const pt = int(fb.payload, 0, 127, `${where} a=rtcp-fb payload type`);
    const feedback = feedbackOf(fb, `${where} a=rtcp-fb:${pt}`);
    byPt.get(pt)?.rtcpFeedback.push(feedback);
  }
  // RTX pairs (RFC 4588 section 8.6): rtx/<rate> with apt=<primary pt>.
  for (const codec of byPt.values()) {
    if (codec.name.toLowerCase() !== 'rtx') continue;
    const apt = codec.params.apt;
    if (apt === undefined) throw sdpError(`${where}: rtx payload type ${codec.payloadType} has no a=fmtp apt`);
    codec.apt = int(apt, 0, 127, `${where} a=fmtp:${codec.payloadType} apt`);
    const primary = byPt.get(codec.apt);
    if (primary && primary.name.toLowerCase() !== 'rtx' && primary.rtxPayloadType === undefined) {
      primary.rtxPayloadType = codec.payloadType;
    }
  }
  // Keep the m-line's preference order.
  const ordered: ParsedCodec[] = [];
  for (const f of formats) {
    const c = byPt.get(Number(f));
    if (c && /^\d+$/.test(f)) ordered.push(c);
  }
  return ordered;
}

function parseExtensions(m: Record<string, unknown>, where: string): ParsedExtension[] {
  const out: ParsedExtension[] = [];
  for (const e of arr(m.ext).map(rec)) {
    const id = int(e.value, 1, 255, `${where} a=extmap id`);
    const uri = str(e.uri);
    if (!uri) throw sdpError(`${where}: a=extmap:${id} has no URI`);
    const other = out.find((x) => x.id === id);
    if (other) {
      if (other.uri !== uri) throw sdpError(`${where}: a=extmap id ${id} is used for two URIs`);
      continue;
    }
    const ext: ParsedExtension = { id, uri };
    const dir = direction(e.direction, `${where} a=extmap:${id}`);
    if (dir) ext.direction = dir;
    out.push(ext);
  }
  return out;
}

function parseSsrcs(m: Record<string, unknown>, where: string): ParsedSsrc[] {
  const bySsrc = new Map<number, ParsedSsrc>();
  for (const s of arr(m.ssrcs).map(rec)) {
    const ssrc = int(s.id, 0, MAX_U32, `${where} a=ssrc`);
    const name = str(s.attribute);
    if (!name) throw sdpError(`${where}: a=ssrc:${ssrc} without an attribute`);
    let entry = bySsrc.get(ssrc);
    if (!entry) {
      entry = { ssrc, attributes: [] };
      bySsrc.set(ssrc, entry);
    }
    const value = str(s.value);
    entry.attributes.push(value === undefined ? { name } : { name, value });
    if (name === 'cname' && value) entry.cname = value;
    if (name === 'msid' && value) {
      const msid = parseMsidValue(value);
      if (msid) entry.msid = msid;
    }
  }
  return [...bySsrc.values()];
}

function parseSsrcGroups(m: Record<string, unknown>, where: string): ParsedSsrcGroup[] {
  return arr(m.ssrcGroups)
    .map(rec)
    .map((g) => {
      const semantics = str(g.semantics);
      if (!semantics) throw sdpError(`${where}: a=ssrc-group without semantics`);
      const ssrcs = (str(g.ssrcs) ?? '')
        .split(/\s+/)
        .filter((x) => x.length > 0)
        .map((x) => int(x, 0, MAX_U32, `${where} a=ssrc-group:${semantics}`));
      if (ssrcs.length === 0) throw sdpError(`${where}: a=ssrc-group:${semantics} lists no SSRC`);
      return { semantics, ssrcs };
    });
}

function parseRids(m: Record<string, unknown>, where: string): ParsedRid[] {
  const out: ParsedRid[] = [];
  for (const r of arr(m.rids).map(rec)) {
    const id = str(r.id);
    if (!id) throw sdpError(`${where}: a=rid without an id`);
    if (r.direction !== 'send' && r.direction !== 'recv') throw sdpError(`${where}: a=rid:${id} has direction ${String(r.direction)}`);
    if (out.some((x) => x.id === id)) throw sdpError(`${where}: duplicate a=rid:${id}`);
    const params = dict();
    const raw = str(r.params);
    if (raw) {
      const parsed = sdpTransform.parseParams(raw);
      for (const key of Object.keys(parsed)) if (key.trim()) params[key.trim()] = str(parsed[key]) ?? '';
    }
    out.push({ id, direction: r.direction, params });
  }
  return out;
}

function parseSimulcast(m: Record<string, unknown>, where: string): ParsedSimulcast | undefined {
  if (m.simulcast === undefined) return undefined;
  const s = rec(m.simulcast);
  const out: ParsedSimulcast = { send: [], recv: [] };
  const lists: [unknown, unknown][] = [
    [s.dir1, s.list1],
    [s.dir2, s.list2],
  ];
  for (const [dir, list] of lists) {
    if (dir === undefined) continue;
    if (dir !== 'send' && dir !== 'recv') throw sdpError(`${where}: a=simulcast direction ${String(dir)}`);
    const text = str(list);
    if (!text) throw sdpError(`${where}: a=simulcast:${dir} without a stream list`);
    const streams: SimulcastAlternative[][] = sdpTransform.parseSimulcastStreamList(text).map((alts) =>
      alts.map((a) => {
        const rid = str(a.scid);
        if (!rid) throw sdpError(`${where}: a=simulcast:${dir} has an empty rid`);
        return { rid, paused: a.paused === true };
      }),
    );
    out[dir] = streams;
  }
  return out;
}

function parseCandidates(m: Record<string, unknown>, where: string): ParsedCandidate[] {
  return arr(m.candidates)
    .map(rec)
    .map((c) => {
      const foundation = str(c.foundation);
      const protocol = str(c.transport)?.toLowerCase();
      const address = str(c.ip);
      const type = str(c.type);
      if (!foundation || !protocol || !address || !type) throw sdpError(`${where}: malformed a=candidate`);
      const cand: ParsedCandidate = {
        foundation,
        component: int(c.component, 1, 256, `${where} a=candidate component`),
        protocol,
        priority: int(c.priority, 0, MAX_U32, `${where} a=candidate priority`),
        address,
        port: int(c.port, 0, 65535, `${where} a=candidate port`),
        type,
      };
      const raddr = str(c.raddr);
      if (raddr) cand.relatedAddress = raddr;
      if (c.rport !== undefined) cand.relatedPort = int(c.rport, 0, 65535, `${where} a=candidate rport`);
      const tcptype = str(c.tcptype);
      if (tcptype) cand.tcpType = tcptype;
      return cand;
    });
}

function kindOf(type: string): SectionKind {
  return type === 'audio' || type === 'video' || type === 'application' ? type : 'unknown';
}

/**
 * Parses an SDP offer or answer from a peer. Throws `SfuError` with code
 * `ERR_SFUD_SDP` (and only that) when the description cannot be used.
 */
export function parseSessionDescription(sdp: string): ParsedSessionDescription {
  if (typeof sdp !== 'string') throw sdpError('SDP is not a string');
  if (sdp.length > MAX_SDP_BYTES || Buffer.byteLength(sdp, 'utf8') > MAX_SDP_BYTES) {
    throw sdpError(`SDP is larger than ${MAX_SDP_BYTES} bytes`);
  }
  try {
    return parseChecked(sdp);
  } catch (err) {
    if (err instanceof SfuError && err.code === SDP_ERROR) throw err;
    // A shape sdp-transform produced that a check above missed: still an SDP error, never a crash.
    throw sdpError(`unparseable SDP: ${err instanceof Error ? err.message : String(err)}`, err);
  }
}

function parseChecked(sdp: string): ParsedSessionDescription {
  const raw = rec(sdpTransform.parse(sdp));
  const blocks = rawBlocks(sdp);
  const media = arr(raw.media).map(rec);
  if (media.length === 0) throw sdpError('SDP has no m= line');
  if (blocks.length !== media.length + 1) throw sdpError('SDP m= lines could not be matched to sections');

  const originRec = rec(raw.origin);
  if (raw.origin === undefined) throw sdpError('SDP has no o= line');
  const sessionId = str(originRec.sessionId);
  if (!sessionId) throw sdpError('o= line has no session id');
  const sessionVersion = int(originRec.sessionVersion, 0, Number.MAX_SAFE_INTEGER, 'o= line session version');

  const sessionLines = blocks[0]!;
  const sessionIce = parseIce(raw, sessionLines, 'session');
  const sessionFingerprints = parseFingerprints(sessionLines, 'session');
  const sessionSetup = parseSetup(raw.setup, 'session');
  const sessionDirection = direction(raw.direction, 'session a=');

  let bundle: string[] | null = null;
  for (const g of arr(raw.groups).map(rec)) {
    if (g.type !== 'BUNDLE') continue;
    const mids = (str(g.mids) ?? '').split(/\s+/).filter((x) => x.length > 0);
    if (bundle === null) bundle = mids;
  }

  const sections: ParsedSection[] = media.map((m, index) => {
    const where = `m-section ${index}`;
    const lines = blocks[index + 1]!;
    const type = str(m.type);
    if (!type) throw sdpError(`${where}: m= line has no media type`);
    const port = int(m.port, 0, 65535, `${where} m= line port`);
    const protocol = str(m.protocol);
    if (!protocol) throw sdpError(`${where}: m= line has no protocol`);
    const formats = (str(m.payloads) ?? '').split(/\s+/).filter((x) => x.length > 0);
    const kind = kindOf(type);
    const mid = m.mid === undefined ? '' : (str(m.mid) ?? '');
    if (m.mid !== undefined && mid === '') throw sdpError(`${where}: empty a=mid`);
    const at = mid ? `${where} (mid ${mid})` : where;

    const section: ParsedSection = {
      index,
      kind,
      media: type,
      mid,
      port,
      rejected: port === 0,
      protocol,
      formats,
      direction: direction(m.direction, `${at} a=`) ?? sessionDirection ?? 'sendrecv',
      fingerprints: parseFingerprints(lines, at),
      bundleOnly: m.bundleOnly !== undefined,
      rtcpMux: m.rtcpMux !== undefined,
      rtcpRsize: m.rtcpRsize !== undefined,
      codecs: kind === 'audio' || kind === 'video' ? parseCodecs(m, formats, at) : [],
      extensions: parseExtensions(m, at),
      ssrcs: parseSsrcs(m, at),
      ssrcGroups: parseSsrcGroups(m, at),
      rids: parseRids(m, at),
      candidates: parseCandidates(m, at),
      endOfCandidates: m.endOfCandidates !== undefined,
    };
    const ice = parseIce(m, lines, at) ?? sessionIce;
    if (ice) section.ice = ice;
    if (section.fingerprints.length === 0) section.fingerprints = sessionFingerprints;
    const setup = parseSetup(m.setup, at) ?? sessionSetup;
    if (setup) section.setup = setup;
    const simulcast = parseSimulcast(m, at);
    if (simulcast) section.simulcast = simulcast;

    // a=msid (RFC 8830), else the legacy ssrc-level msid. sdp-transform's msid
    // pattern misses ids outside [\w-] (Firefox's "{uuid}"), so fall back to the raw value.
    const msidLine = attributeValues(lines, 'msid')[0];
    const msid = msidLine !== undefined ? parseMsidValue(msidLine) : section.ssrcs.find((s) => s.msid)?.msid;
    if (msid) section.msid = msid;

    if (kind === 'application') {
      if (m.sctpPort !== undefined) section.sctpPort = int(m.sctpPort, 1, 65535, `${at} a=sctp-port`);
      else if (m.sctpmap !== undefined) section.sctpPort = int(rec(m.sctpmap).sctpmapNumber, 1, 65535, `${at} a=sctpmap`);
      if (m.maxMessageSize !== undefined) {
        section.maxMessageSize = int(m.maxMessageSize, 0, MAX_U32, `${at} a=max-message-size`);
      }
    }
    return section;
  });

  // BUNDLE (RFC 9143): every section needs a unique mid, and the group may only name them.
  const mids = new Set<string>();
  for (const s of sections) {
    if (!s.mid) {
      if (bundle !== null) throw sdpError(`m-section ${s.index}: a=mid is missing while the SDP uses a=group:BUNDLE`);
      continue;
    }
    if (mids.has(s.mid)) throw sdpError(`m-section ${s.index}: duplicate a=mid:${s.mid}`);
    mids.add(s.mid);
  }
  if (bundle !== null) {
    for (const mid of bundle) if (!mids.has(mid)) throw sdpError(`a=group:BUNDLE names unknown mid ${mid}`);
  }

  // The BUNDLE-tagged section's transport covers bundle-only sections that carry no ICE/DTLS lines.
  const tag = bundle === null ? undefined : sections.find((s) => !s.rejected && bundle.includes(s.mid));
  for (const s of sections) {
    if (s.rejected) continue;
    const inBundle = tag !== undefined && bundle !== null && bundle.includes(s.mid);
    if (!s.ice && inBundle && tag.ice) s.ice = tag.ice;
    if (s.fingerprints.length === 0 && inBundle) s.fingerprints = tag.fingerprints;
    if (!s.setup && inBundle && tag.setup) s.setup = tag.setup;
    const at = s.mid ? `m-section ${s.index} (mid ${s.mid})` : `m-section ${s.index}`;
    if (!s.ice) throw sdpError(`${at}: missing a=ice-ufrag/a=ice-pwd`);
    if (s.fingerprints.length === 0) throw sdpError(`${at}: missing a=fingerprint`);
  }

  const out: ParsedSessionDescription = {
    origin: { sessionId, sessionVersion },
    iceLite: raw.icelite !== undefined,
    fingerprints: sessionFingerprints,
    bundle,
    extmapAllowMixed: raw.extmapAllowMixed !== undefined,
    sections,
  };
  if (sessionIce) out.ice = sessionIce;
  if (sessionSetup) out.setup = sessionSetup;
  const ms = rec(raw.msidSemantic);
  const semantic = str(ms.semantic);
  if (semantic) out.msidSemantic = { semantic, token: str(ms.token) ?? '' };
  return out;
}
