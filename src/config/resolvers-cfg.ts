// haproxy.cfg `resolvers` sections -> the YAML `resolvers` map (validated by src/config/resolvers.ts):
//   resolvers dns
//     nameserver ns1 10.0.0.2:53
//     parse-resolv-conf
//     resolve_retries 3
//     timeout resolve 1s
//     timeout retry 1s
//     hold valid 10s
//     accepted_payload_size 8192
import type { Word } from './cfg-tokenize';
import type { PeersReporter } from './stick-cfg';

interface Pos {
  file: string;
  line: number;
  col: number;
}

const HOLD = ['nx', 'other', 'refused', 'timeout', 'valid', 'obsolete'];
const KEYWORDS = ['nameserver', 'parse-resolv-conf', 'resolve_retries', 'timeout', 'hold', 'accepted_payload_size'];

export class ResolversBlock {
  /** YAML path (below resolvers.NAME) -> value and the position of the line that set it */
  private readonly entries = new Map<string, { value: unknown; pos: Pos }>();

  private constructor(
    readonly name: string,
    readonly pos: Pos,
    private readonly r: PeersReporter,
  ) {}

  /** `resolvers NAME`: a new block, or null (reported) when the header is wrong. */
  static open(w: Word[], blocks: ResolversBlock[], r: PeersReporter): ResolversBlock | null {
    if (w.length < 2) {
      r.error(w[0], "'resolvers' expects a section name");
      return null;
    }
    if (w.length > 2) {
      r.error(w[2], `unexpected '${w[2].text}' after the resolvers section name`);
      return null;
    }
    if (blocks.some((b) => b.name === w[1].text)) {
      r.error(w[1], `resolvers section '${w[1].text}' is defined twice`);
      return null;
    }
    const b = new ResolversBlock(w[1].text, r.at(w[1]), r);
    blocks.push(b);
    return b;
  }

  private set(key: string, value: unknown, at: Word): void {
    this.entries.set(key, { value, pos: this.r.at(at) });
  }

  private arity(w: Word[], n: number, usage: string): boolean {
    if (w.length < n + 1) {
      this.r.error(w[0], `'${w[0].text}' expects ${usage}`);
      return false;
    }
    if (w.length > n + 1) {
      this.r.error(w[n + 1], `unexpected '${w[n + 1].text}' after '${w.slice(0, n + 1).map((x) => x.text).join(' ')}'`);
      return false;
    }
    return true;
  }

  line(w: Word[]): void {
    const kw = w[0].text;
    switch (kw) {
      case 'nameserver':
        if (!this.arity(w, 2, 'a name and an address: nameserver ns1 10.0.0.2:53')) return;
        if (this.entries.has(`nameservers.${w[1].text}`)) {
          this.r.error(w[1], `nameserver '${w[1].text}' is defined twice in resolvers '${this.name}'`);
          return;
        }
        this.set(`nameservers.${w[1].text}`, w[2].text, w[2]);
        return;
      case 'parse-resolv-conf':
        if (this.arity(w, 0, 'no argument')) this.set('parse_resolv_conf', true, w[0]);
        return;
      case 'resolve_retries':
      case 'accepted_payload_size':
        // a number in the YAML (convert); anything else goes on as written for the validator to report
        if (this.arity(w, 1, 'a number')) this.set(kw, /^\d{1,9}$/.test(w[1].text) ? Number(w[1].text) : w[1].text, w[1]);
        return;
      case 'timeout':
        if (!this.arity(w, 2, "'resolve' or 'retry' and a time: timeout resolve 1s")) return;
        if (w[1].text !== 'resolve' && w[1].text !== 'retry') {
          this.r.error(w[1], `unknown timeout '${w[1].text}' in resolvers section (resolve or retry)`);
          return;
        }
        this.set(`timeout.${w[1].text}`, w[2].text, w[2]);
        return;
      case 'hold':
        if (!this.arity(w, 2, `a status (${HOLD.join(', ')}) and a time: hold valid 10s`)) return;
        if (!HOLD.includes(w[1].text)) {
          this.r.error(w[1], `unknown hold status '${w[1].text}' in resolvers section (${HOLD.join(', ')})`);
          return;
        }
        this.set(`hold.${w[1].text}`, w[2].text, w[2]);
        return;
      default:
        this.r.error(w[0], `unknown keyword '${kw}' in 'resolvers' section (gatehouse knows ${KEYWORDS.join(', ')})`);
    }
  }

  /** The YAML `resolvers` map, registering each item's position. */
  static emit(blocks: ResolversBlock[], reg: (path: (string | number)[], pos: Pos) => void): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const b of blocks) {
      reg(['resolvers', b.name], b.pos);
      const o: Record<string, Record<string, unknown> | unknown> = {};
      for (const [key, e] of b.entries) {
        const parts = key.split('.');
        const path = ['resolvers', b.name, parts[0]];
        if (parts.length === 1) {
          o[key] = e.value;
          reg(path, e.pos);
          continue;
        }
        // a nested map (nameservers, timeout, hold) is positioned at its first line
        const sub = (o[parts[0]] ??= {}) as Record<string, unknown>;
        if (Object.keys(sub).length === 0) reg(path, e.pos);
        sub[parts.slice(1).join('.')] = e.value;
        reg([...path, parts.slice(1).join('.')], e.pos);
      }
      out[b.name] = o;
    }
    return out;
  }
}
