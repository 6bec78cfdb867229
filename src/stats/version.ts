// gatehouse's version as in package.json (shown unless `hide_version`).
import * as fs from 'node:fs';
import * as path from 'node:path';

let cached: string | null = null;

export function gatehouseVersion(): string {
  if (cached !== null) return cached;
  cached = 'unknown';
  // dist/stats or dist-test/src/stats: walk up to the package root.
  for (let dir = __dirname, i = 0; i < 5; i++, dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'gatehouse' && pkg.version) {
        cached = pkg.version;
        break;
      }
    } catch {
      // not here; keep walking up
    }
  }
  return cached;
}
