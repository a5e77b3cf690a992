/**
 * Join and admin tokens: JWT, HS256 only, `exp` required.
 *
 * Claims sfud reads (a backend signs them with the shared `--jwt-secret`):
 *   room (or sid)   the one room the token may join; required for join
 *   uid (or sub)    if present, the only uid the token may join as
 *   canPublish      default true; false makes a viewer (no sending media)
 *   canSubscribe    default true; false joins without receiving others' tracks
 *   admin           true: may call the HTTP JSON-RPC admin API (`/rpc`)
 *   exp             required (seconds since the epoch)
 */
import { errors, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { RefusalCode, SignalRefusal } from './jsonrpc/refusals.js';
import { MAX_TOKEN_CHARS } from './jsonrpc/frames.js';

export interface TokenGrant {
  room: string | undefined;
  uid: string | undefined;
  canPublish: boolean;
  canSubscribe: boolean;
  admin: boolean;
}

export interface TokenClaims {
  room?: string;
  uid?: string;
  canPublish?: boolean;
  canSubscribe?: boolean;
  admin?: boolean;
}

/** Clocks of the backend that signs and of sfud drift a little. */
const CLOCK_TOLERANCE_S = 5;

function secretKey(secret: string): Uint8Array {
  return new TextEncoder().encode(secret);
}

function optString(p: JWTPayload, ...names: string[]): string | undefined {
  for (const n of names) {
    const v = p[n];
    if (v === undefined) continue;
    if (typeof v !== 'string') throw new SignalRefusal('tokenInvalid', RefusalCode.Unauthorized, `invalid token: claim ${n} must be a string`);
    return v;
  }
  return undefined;
}

function optBool(p: JWTPayload, name: string, dflt: boolean): boolean {
  const v = p[name];
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw new SignalRefusal('tokenInvalid', RefusalCode.Unauthorized, `invalid token: claim ${name} must be a boolean`);
  return v;
}

export class TokenVerifier {
  private readonly key: Uint8Array;

  constructor(secret: string) {
    this.key = secretKey(secret);
  }

  /** Verifies a token; rejects with a SignalRefusal (401) saying why. */
  async verify(token: string): Promise<TokenGrant> {
    if (token.length === 0) throw new SignalRefusal('tokenMissing', RefusalCode.Unauthorized, 'a token is required');
    if (token.length > MAX_TOKEN_CHARS) throw new SignalRefusal('tokenInvalid', RefusalCode.Unauthorized, 'invalid token: too long');
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.key, { algorithms: ['HS256'], requiredClaims: ['exp'], clockTolerance: CLOCK_TOLERANCE_S }));
    } catch (err) {
      if (err instanceof errors.JWTExpired) throw new SignalRefusal('tokenExpired', RefusalCode.Unauthorized, 'token expired');
      const why = err instanceof errors.JOSEError ? err.message : 'malformed';
      throw new SignalRefusal('tokenInvalid', RefusalCode.Unauthorized, `invalid token: ${why}`);
    }
    return {
      room: optString(payload, 'room', 'sid'),
      uid: optString(payload, 'uid', 'sub'),
      canPublish: optBool(payload, 'canPublish', true),
      canSubscribe: optBool(payload, 'canSubscribe', true),
      admin: optBool(payload, 'admin', false),
    };
  }
}

/**
 * Signs a token as a backend would (for tests, tools and embedding apps).
 * `expiresIn`: seconds from now, or a jose time span such as '1h'.
 */
export async function signToken(claims: TokenClaims, secret: string, expiresIn: number | string = '1h'): Promise<string> {
  const exp = typeof expiresIn === 'number' ? Math.floor(Date.now() / 1000) + expiresIn : expiresIn;
  return new SignJWT({ ...claims }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setIssuedAt().setExpirationTime(exp).sign(secretKey(secret));
}
