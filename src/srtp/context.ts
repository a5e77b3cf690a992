/**
 * SRTP/SRTCP cryptographic context for one direction of one DTLS-SRTP
 * association (RFC 3711 section 3.2): session keys, and per SSRC the rollover
 * counter / highest index (RFC 3711 3.3.1) and the replay windows (3.3.2).
 *
 * A context created from the remote keying material unprotects; one created
 * from the local keying material protects. Sender and receiver state live in
 * separate maps, so one context can also do both (loopback tests).
 *
 * Data-plane rules (STYLE.md 7): the packet methods never throw on packet
 * bytes and return either a byte count or a negative `SrtpError` code;
 * per-SSRC state (ROC, replay window) changes only after authentication
 * succeeds. Per packet: one Map lookup (skipped when the SSRC repeats), no
 * object allocation besides the views and keystream buffer Node hands back
 * (and, for big GCM packets, OpenSSL's cipher object: see gcm.ts).
 *
 * Memory per context: about 1 KB for AES-CM; 72 KB for GCM (GHASH tables,
 * ghash.ts), plus 8 bytes per SSRC and window/8 bytes per received SSRC.
 */

import { AesCmTransform } from './cm.js';
import { SrtpConfigError, SrtpError } from './errors.js';
import { AesGcmTransform } from './gcm.js';
import { rtpHeaderLength } from './header.js';
import { deriveSessionKeys, type SrtpSessionKeys } from './kdf.js';
import { SRTP_AEAD_AES_128_GCM, SRTP_AES128_CM_HMAC_SHA1_80, srtpProfileParams, type SrtpProfile } from './profile.js';
import { estimateIndex, replayWindowSize, ReplayWindow, SRTP_INDEX_LIMIT } from './replay.js';
import type { SrtpTransform } from './transform.js';
import { MAX_PACKET } from './work.js';

export interface SrtpContextOptions {
  /** SRTP replay window in packets (rounded up to a power of two, 32..32768). Default 64. */
  replayWindow?: number;
  /** SRTCP replay window in packets. Default 64. */
  rtcpReplayWindow?: number;
  /** Most SSRCs tracked per direction and protocol; further SSRCs get `TooManySsrcs`. Default 4096. */
  maxSsrcs?: number;
  /**
   * AEAD_AES_128_GCM only: largest payload (bytes) encrypted by the JS path
   * (ECB keystream + JS GHASH); bigger ones use one OpenSSL cipher per packet.
   * Default 512 for SRTP and 384 for SRTCP (gcm.ts; bench/micro/srtp.ts has
   * the crossover). Setting it applies the value to both.
   */
  gcmJsMaxPayload?: number;
  /**
   * Use these session keys instead of deriving them from the master key and
   * salt (which are then ignored): known-answer tests with session-key vectors.
   */
  sessionKeys?: SrtpSessionKeys;
}

export interface SrtpSsrcDump {
  ssrc: number;
  /** Highest SRTP index (2^16 * ROC + SEQ) or, for SRTCP send, the next index to use. */
  index: number;
}

export interface SrtpContextDump {
  profile: SrtpProfile;
  rtpSend: SrtpSsrcDump[];
  rtpRecv: SrtpSsrcDump[];
  rtcpSend: SrtpSsrcDump[];
  rtcpRecv: SrtpSsrcDump[];
}

/** Sender-side per-SSRC state: highest SRTP index sent, or next SRTCP index. */
class Counter {
  constructor(public index: number) {}
}

const MAX_SRTCP_INDEX = 0x7fffffff;

/** True when [off, off+len) is a valid integer range inside buf (false for NaN too). */
function inRange(buf: Uint8Array, off: number, len: number): boolean {
  return (off | 0) === off && (len | 0) === len && off >= 0 && len >= 0 && off + len <= buf.length;
}

function transformFor(profile: SrtpProfile, keys: SrtpSessionKeys, opts: SrtpContextOptions): SrtpTransform {
  switch (profile) {
    case SRTP_AES128_CM_HMAC_SHA1_80:
      return new AesCmTransform(keys);
    case SRTP_AEAD_AES_128_GCM: {
      const max = opts.gcmJsMaxPayload;
      if (max !== undefined && !(Number.isInteger(max) && max >= 0)) {
        throw new SrtpConfigError(`gcmJsMaxPayload must be a non-negative integer, got ${max}`);
      }
      return new AesGcmTransform(keys, max);
    }
  }
}

function checkSessionKeys(profile: SrtpProfile, keys: SrtpSessionKeys): void {
  const p = srtpProfileParams(profile);
  const ok =
    keys.rtpKey.length === p.keyLength &&
    keys.rtcpKey.length === p.keyLength &&
    keys.rtpSalt.length === p.saltLength &&
    keys.rtcpSalt.length === p.saltLength &&
    keys.rtpAuthKey.length === p.authKeyLength &&
    keys.rtcpAuthKey.length === p.authKeyLength;
  if (!ok) throw new SrtpConfigError(`${profile}: session key lengths do not match the profile`);
}

export class SrtpContext {
  readonly profile: SrtpProfile;
  /** Bytes `protectRtp` adds to a packet (the tag). */
  readonly rtpOverhead: number;
  /** Bytes `protectRtcp` adds to a packet (E||index and the tag). */
  readonly rtcpOverhead: number;

  private readonly t: SrtpTransform;
  private readonly tagLength: number;
  private readonly rtcpIndexLast: boolean;
  private readonly windowSize: number;
  private readonly rtcpWindowSize: number;
  private readonly maxSsrcs: number;

  private readonly rtpSend = new Map<number, Counter>();
  private readonly rtpRecv = new Map<number, ReplayWindow>();
  private readonly rtcpSend = new Map<number, Counter>();
  private readonly rtcpRecv = new Map<number, ReplayWindow>();
  // One-entry caches: consecutive packets usually share an SSRC.
  private sendSsrc = -1;
  private sendState: Counter | undefined = undefined;
  private recvSsrc = -1;
  private recvState: ReplayWindow | undefined = undefined;

  /**
   * @param masterKey 16 bytes
   * @param masterSalt 14 bytes (AES-CM) or 12 bytes (GCM)
   * @throws SrtpConfigError on bad lengths or options
   */
  constructor(profile: SrtpProfile, masterKey: Uint8Array, masterSalt: Uint8Array, opts: SrtpContextOptions = {}) {
    const p = srtpProfileParams(profile);
    let keys = opts.sessionKeys;
    if (keys) checkSessionKeys(profile, keys);
    else keys = deriveSessionKeys(profile, masterKey, masterSalt);
    this.profile = profile;
    this.t = transformFor(profile, keys, opts);
    this.tagLength = p.tagLength;
    this.rtcpIndexLast = this.t.rtcpIndexLast;
    this.rtpOverhead = p.tagLength;
    this.rtcpOverhead = p.tagLength + 4;
    this.windowSize = replayWindowSize(opts.replayWindow);
    this.rtcpWindowSize = replayWindowSize(opts.rtcpReplayWindow);
    const max = opts.maxSsrcs ?? 4096;
    if (!Number.isInteger(max) || max < 1) throw new SrtpConfigError(`maxSsrcs must be a positive integer, got ${max}`);
    this.maxSsrcs = max;
  }

  /** A context from already-derived session keys (RFC 7714 test vectors give those). */
  static fromSessionKeys(profile: SrtpProfile, keys: SrtpSessionKeys, opts: SrtpContextOptions = {}): SrtpContext {
    return new SrtpContext(profile, keys.rtpKey, keys.rtpSalt, { ...opts, sessionKeys: keys });
  }

  /**
   * Authenticates, replay-checks and decrypts the SRTP packet in
   * buf[offset .. offset+length) in place. Returns the RTP packet length
   * (header + payload, the tag stripped) or a negative `SrtpError`.
   */
  unprotectRtp(buf: Uint8Array, offset: number, length: number): number {
    if (!inRange(buf, offset, length) || length > MAX_PACKET) return SrtpError.Malformed;
    const rtpLen = length - this.tagLength;
    if (rtpLen < 12) return SrtpError.TooShort;
    const hl = rtpHeaderLength(buf, offset, rtpLen);
    if (hl < 0) return hl;
    const seq = (buf[offset + 2]! << 8) | buf[offset + 3]!;
    const ssrc = ((buf[offset + 8]! << 24) | (buf[offset + 9]! << 16) | (buf[offset + 10]! << 8) | buf[offset + 11]!) >>> 0;
    let win = ssrc === this.recvSsrc ? this.recvState : this.rtpRecv.get(ssrc);
    let index: number;
    if (win === undefined) {
      // RFC 3711 3.3.1: the first packet of an SSRC has ROC 0 and sets s_l.
      if (this.rtpRecv.size >= this.maxSsrcs) return SrtpError.TooManySsrcs;
      index = seq;
    } else {
      index = estimateIndex(win.top, seq);
      const r = win.check(index);
      if (r !== 0) return r;
      if (index >= SRTP_INDEX_LIMIT) return SrtpError.IndexExhausted;
    }
    const roc = (index - seq) / 65536;
    if (!this.t.unprotectRtp(buf, offset, hl, rtpLen - hl, ssrc, roc, seq)) return SrtpError.AuthFailed;
    if (win === undefined) {
      win = new ReplayWindow(this.windowSize);
      this.rtpRecv.set(ssrc, win);
    }
    win.accept(index);
    this.recvSsrc = ssrc;
    this.recvState = win;
    return rtpLen;
  }

  /**
   * Encrypts and authenticates the RTP packet src[srcOff .. srcOff+srcLen)
   * into dst at dstOff (dst may be src, at any offset, when there is room for
   * the tag). Returns bytes written (srcLen + rtpOverhead) or a negative `SrtpError`.
   */
  protectRtp(src: Uint8Array, srcOff: number, srcLen: number, dst: Uint8Array, dstOff: number): number {
    if (!inRange(src, srcOff, srcLen) || srcLen > MAX_PACKET - this.tagLength) return SrtpError.Malformed;
    if (!inRange(dst, dstOff, srcLen + this.tagLength)) return SrtpError.BufferTooSmall;
    const hl = rtpHeaderLength(src, srcOff, srcLen);
    if (hl < 0) return hl;
    const seq = (src[srcOff + 2]! << 8) | src[srcOff + 3]!;
    const ssrc = ((src[srcOff + 8]! << 24) | (src[srcOff + 9]! << 16) | (src[srcOff + 10]! << 8) | src[srcOff + 11]!) >>> 0;
    let st = ssrc === this.sendSsrc ? this.sendState : this.rtpSend.get(ssrc);
    let index = seq;
    if (st === undefined) {
      if (this.rtpSend.size >= this.maxSsrcs) return SrtpError.TooManySsrcs;
      st = new Counter(seq);
      this.rtpSend.set(ssrc, st);
    } else {
      // The sender guesses like a receiver would, so retransmissions of
      // packets from before a wrap keep their old ROC.
      index = estimateIndex(st.index, seq);
      if (index < 0) return SrtpError.ReplayTooOld;
      if (index >= SRTP_INDEX_LIMIT) return SrtpError.IndexExhausted;
      if (index > st.index) st.index = index;
    }
    this.sendSsrc = ssrc;
    this.sendState = st;
    this.t.protectRtp(src, srcOff, hl, srcLen - hl, dst, dstOff, ssrc, (index - seq) / 65536, seq);
    return srcLen + this.tagLength;
  }

  /**
   * Authenticates, replay-checks and (if E is set) decrypts the SRTCP packet
   * in buf[offset .. offset+length) in place. Returns the RTCP packet length
   * (E||index and tag stripped) or a negative `SrtpError`.
   */
  unprotectRtcp(buf: Uint8Array, offset: number, length: number): number {
    if (!inRange(buf, offset, length) || length > MAX_PACKET) return SrtpError.Malformed;
    const len = length - this.tagLength - 4;
    if (len < 8) return SrtpError.TooShort;
    if ((buf[offset]! & 0xc0) !== 0x80) return SrtpError.Malformed;
    const p = this.rtcpIndexLast ? offset + length - 4 : offset + len;
    const word = ((buf[p]! << 24) | (buf[p + 1]! << 16) | (buf[p + 2]! << 8) | buf[p + 3]!) >>> 0;
    const encrypted = word >= 0x80000000;
    const index = word & MAX_SRTCP_INDEX;
    const ssrc = ((buf[offset + 4]! << 24) | (buf[offset + 5]! << 16) | (buf[offset + 6]! << 8) | buf[offset + 7]!) >>> 0;
    let win = this.rtcpRecv.get(ssrc);
    if (win === undefined) {
      if (this.rtcpRecv.size >= this.maxSsrcs) return SrtpError.TooManySsrcs;
    } else {
      const r = win.check(index);
      if (r !== 0) return r;
    }
    if (!this.t.unprotectRtcp(buf, offset, len, ssrc, index, encrypted)) return SrtpError.AuthFailed;
    if (win === undefined) {
      win = new ReplayWindow(this.rtcpWindowSize);
      this.rtcpRecv.set(ssrc, win);
    }
    win.accept(index);
    return len;
  }

  /**
   * Encrypts and authenticates the (compound) RTCP packet src[srcOff ..
   * srcOff+srcLen) into dst at dstOff with E = 1 and the sender SSRC's next
   * SRTCP index (from 0). Returns bytes written (srcLen + rtcpOverhead) or a
   * negative `SrtpError`.
   */
  protectRtcp(src: Uint8Array, srcOff: number, srcLen: number, dst: Uint8Array, dstOff: number): number {
    if (!inRange(src, srcOff, srcLen) || srcLen > MAX_PACKET - this.rtcpOverhead) return SrtpError.Malformed;
    if (srcLen < 8) return SrtpError.TooShort;
    if ((src[srcOff]! & 0xc0) !== 0x80) return SrtpError.Malformed;
    if (!inRange(dst, dstOff, srcLen + this.rtcpOverhead)) return SrtpError.BufferTooSmall;
    const ssrc = ((src[srcOff + 4]! << 24) | (src[srcOff + 5]! << 16) | (src[srcOff + 6]! << 8) | src[srcOff + 7]!) >>> 0;
    let st = this.rtcpSend.get(ssrc);
    if (st === undefined) {
      if (this.rtcpSend.size >= this.maxSsrcs) return SrtpError.TooManySsrcs;
      st = new Counter(0);
      this.rtcpSend.set(ssrc, st);
    }
    const index = st.index;
    if (index > MAX_SRTCP_INDEX) return SrtpError.IndexExhausted;
    st.index = index + 1;
    this.t.protectRtcp(src, srcOff, srcLen, dst, dstOff, ssrc, index);
    return srcLen + this.rtcpOverhead;
  }

  /** Sets the next SRTCP index `protectRtcp` uses for `ssrc` (state restore, test vectors). */
  setRtcpIndex(ssrc: number, nextIndex: number): void {
    if (!Number.isInteger(nextIndex) || nextIndex < 0 || nextIndex > MAX_SRTCP_INDEX) {
      throw new SrtpConfigError(`SRTCP index must be in 0..${MAX_SRTCP_INDEX}, got ${nextIndex}`);
    }
    const st = this.rtcpSend.get(ssrc >>> 0);
    if (st) st.index = nextIndex;
    else this.rtcpSend.set(ssrc >>> 0, new Counter(nextIndex));
  }

  /** Forgets all per-SSRC state (e.g. when the remote SSRCs are re-negotiated). */
  reset(): void {
    this.rtpSend.clear();
    this.rtpRecv.clear();
    this.rtcpSend.clear();
    this.rtcpRecv.clear();
    this.sendSsrc = -1;
    this.sendState = undefined;
    this.recvSsrc = -1;
    this.recvState = undefined;
  }

  /** Forgets one remote SSRC (its stream ended). */
  removeSsrc(ssrc: number): void {
    const s = ssrc >>> 0;
    this.rtpSend.delete(s);
    this.rtpRecv.delete(s);
    this.rtcpSend.delete(s);
    this.rtcpRecv.delete(s);
    if (this.sendSsrc === s) {
      this.sendSsrc = -1;
      this.sendState = undefined;
    }
    if (this.recvSsrc === s) {
      this.recvSsrc = -1;
      this.recvState = undefined;
    }
  }

  dump(): SrtpContextDump {
    const counters = (m: Map<number, Counter>): SrtpSsrcDump[] => [...m].map(([ssrc, c]) => ({ ssrc, index: c.index }));
    const windows = (m: Map<number, ReplayWindow>): SrtpSsrcDump[] => [...m].map(([ssrc, w]) => ({ ssrc, index: w.top }));
    return {
      profile: this.profile,
      rtpSend: counters(this.rtpSend),
      rtpRecv: windows(this.rtpRecv),
      rtcpSend: counters(this.rtcpSend),
      rtcpRecv: windows(this.rtcpRecv),
    };
  }
}
