// ACL evaluation: matching a sample against the patterns of a test (string methods, integers,
// booleans, client address).
import { CTest, M_BEG, M_BOOL, M_DIR, M_DOM, M_END, M_FOUND, M_INT, M_IP, M_LEN, M_REG, M_STR, M_SUB } from './compile';
import { ipInNet, sampleInNet } from './ip';
import type { RequestView } from './view';
import { lowerAscii } from './case-fold';


function isDomDelim(c: number): boolean {
  return c === 46 || c === 58 || c === 47 || c === 63; // . : / ?
}

/** HAProxy dir/dom match: p occurs in s bounded by delimiters or the ends of s. */
function wordMatch(s: string, p: string, dom: boolean): boolean {
  const n = p.length;
  if (n === 0) return false;
  for (let i = s.indexOf(p); i >= 0; i = s.indexOf(p, i + 1)) {
    if (i > 0) {
      const b = s.charCodeAt(i - 1);
      if (dom ? !isDomDelim(b) : b !== 47) continue;
    }
    if (i + n < s.length) {
      const a = s.charCodeAt(i + n);
      if (dom ? !isDomDelim(a) : a !== 47) continue;
    }
    return true;
  }
  return false;
}

function inRanges(t: CTest, v: number): boolean {
  const lo = t.lo;
  const hi = t.hi;
  for (let i = 0; i < lo.length; i++) if (v >= lo[i] && v <= hi[i]) return true;
  return false;
}

/** Leading integer of a string (HAProxy's string-to-int cast), NaN when none. */
export function leadingInt(s: string): number {
  let i = 0;
  let neg = false;
  if (s.charCodeAt(0) === 45) {
    neg = true;
    i = 1;
  }
  let v = 0;
  const start = i;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) break;
    v = v * 10 + (c - 48);
  }
  if (i === start) return NaN;
  return neg ? -v : v;
}

/** `s` as a test compares it: lower-cased (ASCII) when the test folds case. */
export function prep(t: CTest, s: string): string {
  return t.fold ? lowerAscii(s) : s;
}

/** Matches a sample against a test's patterns. `s` must already be lower-cased when t.fold (see prep). */
export function matchStr(t: CTest, s: string): boolean {
  const strs = t.strs;
  switch (t.match) {
    case M_FOUND:
      return true;
    case M_STR: {
      if (t.set !== null) return t.set.has(s);
      for (let i = 0; i < strs.length; i++) if (strs[i] === s) return true;
      return false;
    }
    case M_BEG:
      for (let i = 0; i < strs.length; i++) if (s.startsWith(strs[i])) return true;
      return false;
    case M_END: {
      const tab = t.endTab;
      if (tab !== null) {
        const c = s.charCodeAt(s.length - 1); // NaN for '': no pattern is empty here
        if (!(c < 128) || tab[c] === 0) return false;
      }
      for (let i = 0; i < strs.length; i++) if (s.endsWith(strs[i])) return true;
      return false;
    }
    case M_SUB:
      if (t.subRe !== null) return t.subRe.test(s);
      for (let i = 0; i < strs.length; i++) if (s.includes(strs[i])) return true;
      return false;
    case M_REG:
      for (let i = 0; i < t.res.length; i++) if (t.res[i].test(s)) return true;
      return false;
    case M_DIR:
    case M_DOM:
      for (let i = 0; i < strs.length; i++) if (wordMatch(s, strs[i], t.match === M_DOM)) return true;
      return false;
    case M_LEN:
      return inRanges(t, s.length);
    case M_INT: {
      const v = leadingInt(s);
      return v === v && inRanges(t, v);
    }
    case M_IP:
      for (let i = 0; i < t.nets.length; i++) if (ipInNet(s, t.nets[i])) return true;
      return false;
    case M_BOOL:
      return s !== '' && leadingInt(s) !== 0;
  }
  return false;
}

export function matchInt(t: CTest, v: number): boolean {
  switch (t.match) {
    case M_INT:
      return inRanges(t, v);
    case M_FOUND:
      return true;
    case M_BOOL:
      return v !== 0;
  }
  return matchStr(t, String(v)); // -m str/beg/len... on an integer: HAProxy casts it to a string
}

export function matchBool(t: CTest, v: boolean): boolean {
  switch (t.match) {
    case M_BOOL:
      return v;
    case M_FOUND:
      return true;
    case M_INT:
      return inRanges(t, v ? 1 : 0);
  }
  return matchStr(t, v ? '1' : '0');
}

/** src: networks compare the parsed address (read lazily, once); other matchers see its text. */
export function matchSrc(t: CTest, req: RequestView): boolean {
  if (t.match === M_IP) {
    const ip = req.srcAddress();
    if (ip === null) return false;
    const nets = t.nets;
    for (let i = 0; i < nets.length; i++) if (sampleInNet(ip, nets[i])) return true;
    return false;
  }
  const text = req.srcText();
  if (text === '') return false;
  return matchStr(t, prep(t, text));
}
