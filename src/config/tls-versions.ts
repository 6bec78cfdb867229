// TLS protocol versions of a bind as HAProxy derives them: `ssl-min-ver` / `ssl-max-ver` bound
// the range, `no-sslv3` / `no-tlsv1x` take versions out, `force-tlsv1x` keeps exactly one. The
// result is the lowest and highest version left (a hole in the middle cannot be expressed with
// node:tls's minVersion/maxVersion, nor with OpenSSL's; HAProxy warns about holes too). Also the
// words of global `ssl-default-bind-options`.

export const TLS_VERSIONS = ['SSLv3', 'TLSv1.0', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const;

/** HAProxy 2.6's defaults when a bind says nothing: TLSv1.2 .. TLSv1.3. */
export const DEFAULT_MIN_VER = 'TLSv1.2';
export const DEFAULT_MAX_VER = 'TLSv1.3';

const NO_FLAGS: Record<string, string> = { 'no-sslv3': 'SSLv3', 'no-tlsv10': 'TLSv1.0', 'no-tlsv11': 'TLSv1.1', 'no-tlsv12': 'TLSv1.2', 'no-tlsv13': 'TLSv1.3' };
const FORCE_FLAGS: Record<string, string> = { 'force-sslv3': 'SSLv3', 'force-tlsv10': 'TLSv1.0', 'force-tlsv11': 'TLSv1.1', 'force-tlsv12': 'TLSv1.2', 'force-tlsv13': 'TLSv1.3' };

/** True for the bind options this module reads (no-tlsv12, force-tlsv13 ...). */
export function isVersionFlag(word: string): boolean {
  return NO_FLAGS[word] !== undefined || FORCE_FLAGS[word] !== undefined;
}

export interface VersionRange {
  min: string;
  max: string;
}

/**
 * The range left by `min`/`max` (null: the defaults) and `flags` (no-*, force-*). A string is
 * the error: nothing left, or an unknown version name.
 */
export function versionRange(min: string | null, max: string | null, flags: readonly string[]): VersionRange | string {
  const idx = (v: string) => (TLS_VERSIONS as readonly string[]).indexOf(v);
  let lo = idx(min ?? DEFAULT_MIN_VER);
  let hi = idx(max ?? DEFAULT_MAX_VER);
  if (lo < 0) return `unknown TLS version '${min}' (expected one of ${TLS_VERSIONS.join(', ')})`;
  if (hi < 0) return `unknown TLS version '${max}' (expected one of ${TLS_VERSIONS.join(', ')})`;
  const forced = flags.filter((f) => FORCE_FLAGS[f] !== undefined);
  if (forced.length > 1) return `only one force-* option may be given (${forced.join(', ')})`;
  if (forced.length === 1) {
    // force-* overrides the range (HAProxy: "this option enforces the use of <version>")
    lo = hi = idx(FORCE_FLAGS[forced[0]]);
  }
  const on = TLS_VERSIONS.map((_, i) => i >= lo && i <= hi);
  for (const f of flags) if (NO_FLAGS[f] !== undefined && forced.length === 0) on[idx(NO_FLAGS[f])] = false;
  const first = on.indexOf(true);
  const last = on.lastIndexOf(true);
  if (first < 0) return `no TLS version is left enabled (${[min !== null ? `ssl-min-ver ${min}` : '', max !== null ? `ssl-max-ver ${max}` : '', ...flags].filter((x) => x !== '').join(' ')})`;
  return { min: TLS_VERSIONS[first], max: TLS_VERSIONS[last] };
}

/** What global `ssl-default-bind-options` sets for every ssl bind. */
export interface DefaultBindOptions {
  minVer: string | null;
  maxVer: string | null;
  flags: string[];
  noTlsTickets: boolean;
  preferClientCiphers: boolean;
}

/**
 * The words of `ssl-default-bind-options` ("ssl-min-ver TLSv1.2 no-tls-tickets ..."); a string
 * is the error. prefer-client-ciphers and no-renegotiate-like words gatehouse cannot honour
 * are errors rather than silently dropped.
 */
export function parseDefaultBindOptions(text: string): DefaultBindOptions | string {
  const w = text.trim().split(/\s+/).filter((x) => x !== '');
  const out: DefaultBindOptions = { minVer: null, maxVer: null, flags: [], noTlsTickets: false, preferClientCiphers: false };
  for (let i = 0; i < w.length; i++) {
    const o = w[i];
    if (o === 'ssl-min-ver' || o === 'ssl-max-ver') {
      const v = w[i + 1];
      if (v === undefined) return `'${o}' needs a version such as TLSv1.2`;
      if (!(TLS_VERSIONS as readonly string[]).includes(v)) return `'${o} ${v}': unknown TLS version (expected one of ${TLS_VERSIONS.join(', ')})`;
      if (o === 'ssl-min-ver') out.minVer = v;
      else out.maxVer = v;
      i++;
    } else if (isVersionFlag(o)) {
      out.flags.push(o);
    } else if (o === 'no-tls-tickets') {
      out.noTlsTickets = true;
    } else if (o === 'prefer-client-ciphers') {
      out.preferClientCiphers = true;
    } else {
      return `'${o}' is not supported in ssl-default-bind-options (gatehouse: ssl-min-ver, ssl-max-ver, no-sslv3, no-tlsv10..13, force-tlsv12/13, no-tls-tickets, prefer-client-ciphers)`;
    }
  }
  const r = versionRange(out.minVer, out.maxVer, out.flags);
  return typeof r === 'string' ? r : out;
}
