// haproxy.cfg `peers` sections -> the YAML `peers` map (validated by src/config/stick.ts):
//   peers mypeers
//     peer lb1 10.0.0.1:10000
//     table t1 type ip size 1m expire 30s store http_req_rate(10s)
import type { Word } from './cfg-tokenize';
import { joinWords } from '../acl/words';

/** a source position (the same shape as haproxy-cfg.ts's) */
interface Pos {
  file: string;
  line: number;
  col: number;
}

export interface PeersReporter {
  at(w: Word): Pos;
  error(w: Word, message: string): void;
  warn(w: Word, message: string): void;
}

export class PeersBlock {
  readonly peer: { text: string; pos: Pos }[] = [];
  readonly table: { text: string; pos: Pos }[] = [];

  private constructor(
    readonly name: string,
    readonly pos: Pos,
    private readonly r: PeersReporter,
  ) {}

  /** `peers NAME`: a new block, or null (reported) when the header is wrong. */
  static open(w: Word[], blocks: PeersBlock[], r: PeersReporter): PeersBlock | null {
    if (w.length < 2) {
      r.error(w[0], "'peers' expects a section name");
      return null;
    }
    if (w.length > 2) {
      r.error(w[2], `unexpected '${w[2].text}' after the peers section name`);
      return null;
    }
    if (blocks.some((b) => b.name === w[1].text)) {
      r.error(w[1], `peers section '${w[1].text}' is defined twice`);
      return null;
    }
    const b = new PeersBlock(w[1].text, r.at(w[1]), r);
    blocks.push(b);
    return b;
  }

  line(w: Word[]): void {
    const kw = w[0].text;
    switch (kw) {
      case 'peer':
        if (w.length < 3) {
          this.r.error(w[0], "'peer' expects a name and an address: peer lb1 10.0.0.1:10000");
          return;
        }
        if (w.length > 3) this.r.warn(w[3], `peer options ('${w[3].text}' ...) are ignored by gatehouse`);
        this.peer.push({ text: `${w[1].text} ${w[2].text}`, pos: this.r.at(w[0]) });
        return;
      case 'table':
        if (w.length < 2) {
          this.r.error(w[0], "'table' expects a name and a definition: table t1 type ip size 1m");
          return;
        }
        this.table.push({ text: joinWords(w.slice(1).map((x) => x.text)), pos: this.r.at(w[0]) });
        return;
      case 'disabled':
      case 'enabled':
        this.r.warn(w[0], `'${kw}' in a peers section is ignored by gatehouse`);
        return;
      case 'bind':
      case 'server':
      case 'default-server':
      case 'default-bind':
        this.r.error(w[0], `'${kw}' in a peers section is not supported by gatehouse yet: write one 'peer NAME ADDRESS:PORT' line per peer, this process's included`);
        return;
      default:
        this.r.error(w[0], `unknown keyword '${kw}' in 'peers' section (gatehouse knows peer and table)`);
    }
  }

  /** The YAML `peers` map, registering each item's position. */
  static emit(blocks: PeersBlock[], reg: (path: (string | number)[], pos: Pos) => void): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const b of blocks) {
      reg(['peers', b.name], b.pos);
      const o: Record<string, unknown> = {};
      for (const key of ['peer', 'table'] as const) {
        const list = b[key];
        if (!list.length) continue;
        reg(['peers', b.name, key], list[0].pos);
        list.forEach((x, i) => reg(['peers', b.name, key, i], x.pos));
        o[key] = list.map((x) => x.text);
      }
      out[b.name] = o;
    }
    return out;
  }
}
