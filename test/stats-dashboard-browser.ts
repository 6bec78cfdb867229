// Shared by the dashboard tests: headless Chromium driven over the DevTools protocol (the `ws`
// client from devDependencies), and a small PNG decoder (node:zlib) to look at screenshots.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import WebSocket from 'ws';

export const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => fs.existsSync(p));

interface Pending {
  resolve: (v: Record<string, unknown>) => void;
  reject: (e: Error) => void;
}

/** One headless Chromium with one page, fresh profile, removed on close(). */
export class Browser {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private sessionId = '';
  /** console messages and exceptions of the page */
  readonly console: string[] = [];

  private constructor(private readonly proc: ChildProcess, private readonly ws: WebSocket, private readonly profile: string) {
    ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as { id?: number; result?: Record<string, unknown>; error?: { message: string }; method?: string; params?: Record<string, unknown> };
      if (m.id !== undefined) {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (m.error) p?.reject(new Error(m.error.message));
        else p?.resolve(m.result ?? {});
      } else if (m.method === 'Runtime.consoleAPICalled') {
        const args = (m.params?.args as { value?: unknown }[]) ?? [];
        this.console.push(args.map((a) => String(a.value)).join(' '));
      } else if (m.method === 'Runtime.exceptionThrown') {
        this.console.push('exception: ' + JSON.stringify(m.params?.exceptionDetails));
      }
    });
  }

  static async launch(width = 1400, height = 1000, extraArgs: string[] = []): Promise<Browser> {
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-chromium-'));
    const proc = spawn(
      CHROMIUM!,
      [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
        '--disable-sync', '--no-first-run', '--disable-dev-shm-usage', '--disable-quic', '--hide-scrollbars',
        `--user-data-dir=${profile}`, `--window-size=${width},${height}`, '--remote-debugging-port=0', ...extraArgs, 'about:blank',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const endpoint = await new Promise<string>((resolve, reject) => {
      let err = '';
      const t = setTimeout(() => reject(new Error(`chromium did not start:\n${err}`)), 30000);
      proc.stderr!.on('data', (d) => {
        err += d;
        const m = /DevTools listening on (ws:\/\/\S+)/.exec(err);
        if (m) {
          clearTimeout(t);
          resolve(m[1]);
        }
      });
      proc.once('exit', (code) => reject(new Error(`chromium exited ${code}:\n${err}`)));
    });
    const ws = new WebSocket(endpoint, { perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const b = new Browser(proc, ws, profile);
    const { targetId } = (await b.send('Target.createTarget', { url: 'about:blank' }, false)) as { targetId: string };
    const { sessionId } = (await b.send('Target.attachToTarget', { targetId, flatten: true }, false)) as { sessionId: string };
    b.sessionId = sessionId;
    await b.send('Runtime.enable');
    await b.send('Network.enable');
    await b.send('Page.enable');
    await b.send('Emulation.setDeviceMetricsOverride', { width, height, deviceScaleFactor: 1, mobile: false });
    return b;
  }

  send(method: string, params: Record<string, unknown> = {}, page = true): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    const msg: Record<string, unknown> = { id, method, params };
    if (page) msg.sessionId = this.sessionId;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify(msg));
    });
  }

  /** Basic credentials on every request of the page (document, XHRs). */
  async authorize(user: string, password: string): Promise<void> {
    await this.send('Network.setExtraHTTPHeaders', { headers: { Authorization: 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64') } });
  }

  async navigate(url: string): Promise<void> {
    const loaded = new Promise<void>((resolve) => {
      const on = (data: WebSocket.RawData) => {
        const m = JSON.parse(String(data)) as { method?: string };
        if (m.method === 'Page.loadEventFired') {
          this.ws.off('message', on);
          resolve();
        }
      };
      this.ws.on('message', on);
    });
    await this.send('Page.navigate', { url });
    await loaded;
  }

  /** Evaluate an expression in the page (promises awaited), by value. */
  async eval<T>(expression: string): Promise<T> {
    const r = (await this.send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true })) as {
      result: { value?: T };
      exceptionDetails?: unknown;
    };
    if (r.exceptionDetails) throw new Error(`page exception: ${JSON.stringify(r.exceptionDetails)}`);
    return r.result.value as T;
  }

  /** Poll `expression` until it is truthy. */
  async waitFor(expression: string, timeoutMs = 15000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await this.eval<boolean>(`!!(${expression})`))) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${expression}\nconsole: ${this.console.join('\n')}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async screenshot(): Promise<Buffer> {
    const r = (await this.send('Page.captureScreenshot', { format: 'png' })) as { data: string };
    return Buffer.from(r.data, 'base64');
  }

  async close(): Promise<void> {
    const exited = this.proc.exitCode === null ? new Promise((r) => this.proc.once('exit', r)) : Promise.resolve();
    try {
      await Promise.race([this.send('Browser.close', {}, false), new Promise((r) => setTimeout(r, 3000))]);
    } catch {
      // closing anyway
    }
    this.ws.terminate();
    // let it exit by itself (its helper processes write into the profile until then)
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill('SIGKILL');
      await exited;
    }
    fs.rmSync(this.profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
  }
}

export interface Image {
  width: number;
  height: number;
  /** RGBA, 4 bytes a pixel */
  rgba: Uint8Array;
}

/** Decode an 8-bit RGB/RGBA non-interlaced PNG (what Chromium writes). */
export function decodePng(png: Buffer): Image {
  if (png.readUInt32BE(0) !== 0x89504e47) throw new Error('not a PNG');
  let p = 8;
  let width = 0;
  let height = 0;
  let colorType = 0;
  const idat: Buffer[] = [];
  while (p < png.length) {
    const len = png.readUInt32BE(p);
    const type = png.toString('latin1', p + 4, p + 8);
    const data = png.subarray(p + 8, p + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      if (data[8] !== 8 || data[12] !== 0) throw new Error('only 8-bit non-interlaced PNGs');
      colorType = data[9];
    } else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
    p += 12 + len;
  }
  const bpp = colorType === 6 ? 4 : colorType === 2 ? 3 : 0;
  if (bpp === 0) throw new Error(`PNG colour type ${colorType} not handled`);
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const stride = width * bpp;
  const out = new Uint8Array(width * height * 4);
  let prev = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const cur = new Uint8Array(stride);
    for (let i = 0; i < stride; i++) {
      const a = i >= bpp ? cur[i - bpp] : 0;
      const b = prev[i];
      const c = i >= bpp ? prev[i - bpp] : 0;
      let v = line[i];
      if (f === 1) v += a;
      else if (f === 2) v += b;
      else if (f === 3) v += (a + b) >> 1;
      else if (f === 4) {
        const pa = Math.abs(b - c);
        const pb = Math.abs(a - c);
        const pc = Math.abs(a + b - 2 * c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      cur[i] = v & 0xff;
    }
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4;
      out[o] = cur[x * bpp];
      out[o + 1] = cur[x * bpp + 1];
      out[o + 2] = cur[x * bpp + 2];
      out[o + 3] = bpp === 4 ? cur[x * bpp + 3] : 255;
    }
    prev = cur;
  }
  return { width, height, rgba: out };
}

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Pixels inside `box` for which `pick(r, g, b)` holds. */
export function countPixels(img: Image, box: Box, pick: (r: number, g: number, b: number) => boolean): number {
  let n = 0;
  const x0 = Math.max(0, Math.floor(box.x));
  const y0 = Math.max(0, Math.floor(box.y));
  const x1 = Math.min(img.width, Math.ceil(box.x + box.width));
  const y1 = Math.min(img.height, Math.ceil(box.y + box.height));
  for (let y = y0; y < y1; y++)
    for (let x = x0; x < x1; x++) {
      const o = (y * img.width + x) * 4;
      if (pick(img.rgba[o], img.rgba[o + 1], img.rgba[o + 2])) n++;
    }
  return n;
}

/** A colour within `tol` of #rrggbb on every channel. */
export function near(hex: string, tol = 24): (r: number, g: number, b: number) => boolean {
  const v = parseInt(hex.slice(1), 16);
  const [R, G, B] = [(v >> 16) & 255, (v >> 8) & 255, v & 255];
  return (r, g, b) => Math.abs(r - R) <= tol && Math.abs(g - G) <= tol && Math.abs(b - B) <= tol;
}

/**
 * `hex` drawn over white with at least `min` coverage: a 1 px bar whose canvas sits at a
 * fractional page offset reaches the screenshot smoothed over two pixels, none of them the
 * exact colour (the layout, and so the offset, moves with the table's numbers).
 */
export function over(hex: string, min = 0.35, tol = 24): (r: number, g: number, b: number) => boolean {
  const v = parseInt(hex.slice(1), 16);
  const want = [(v >> 16) & 255, (v >> 8) & 255, v & 255];
  return (r, g, b) => {
    const a = (255 - r) / (255 - want[0]);
    if (!(a >= min && a <= 1.1)) return false;
    return [r, g, b].every((c, i) => Math.abs(c - (255 - a * (255 - want[i]))) <= tol);
  };
}
