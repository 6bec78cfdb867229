// ACL evaluation: ASCII case folding, with a small cache so a sample tested by several
// case-insensitive ACLs is lowered once.


/** ASCII lower-case of a char code. */
function lc(c: number): number {
  return c >= 65 && c <= 90 ? c + 32 : c;
}

/** s[at, at+p.length) equals p, folding s's case (p is already lower-case). */
export function foldAt(s: string, at: number, p: string): boolean {
  const n = p.length;
  if (at < 0 || at + n > s.length) return false;
  for (let i = 0; i < n; i++) if (lc(s.charCodeAt(at + i)) !== p.charCodeAt(i)) return false;
  return true;
}

const NON_ASCII = /[^\x00-\x7f]/;

/** ASCII-only lower-casing of a string holding other characters too (HAProxy folds bytes A-Z only). */
function lowerAsciiSlow(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out += c >= 65 && c <= 90 ? String.fromCharCode(c + 32) : s[i];
  }
  return out;
}

// The last few samples lower-cased, keyed by the string (usually the very same string object:
// a request's Host tested by four ACLs is lowered once; equal strings of the next request on a
// keep-alive connection hit too). toLowerCase() returns its argument when nothing changes.
const LC_SIZE = 8; // a power of two
const lcIn: string[] = new Array<string>(LC_SIZE).fill('\u0000');
const lcOut: string[] = new Array<string>(LC_SIZE).fill('\u0000');
let lcNext = 0;
let lcLastIn = '\u0000';
let lcLastOut = '\u0000';

/** `s` with A-Z lowered (and nothing else: the same length, the same offsets), memoised. */
export function lowerAscii(s: string): string {
  if (s === lcLastIn) return lcLastOut;
  for (let i = 0; i < LC_SIZE; i++) {
    if (lcIn[i] === s) {
      lcLastIn = s;
      lcLastOut = lcOut[i];
      return lcLastOut;
    }
  }
  const l = NON_ASCII.test(s) ? lowerAsciiSlow(s) : s.toLowerCase();
  lcIn[lcNext] = s;
  lcOut[lcNext] = l;
  lcNext = (lcNext + 1) & (LC_SIZE - 1);
  lcLastIn = s;
  lcLastOut = l;
  return l;
}
