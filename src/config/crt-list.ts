// HAProxy's `crt-list` file: one certificate per line, `<crtfile> [[<sslbindconf> ...]] [[!]<snifilter> ...]`,
// '#' comments and blank lines skipped. A line's SNI filters choose the names that certificate
// serves (wildcards "*.example.com" allowed, "!name" excludes); without filters it serves the
// names in the certificate itself. Per-line ssl options in brackets are not supported (an
// error naming the line, never silently dropped). Errors name the list file and line.
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import type { CrtListEntry } from './model';
import { checkPemFile } from './validate-values';

export interface CrtListResult {
  entries: CrtListEntry[];
  /** "FILE:LINE: what is wrong" */
  errors: string[];
  warnings: string[];
}

const SNI_FILTER = /^!?(\*\.)?[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?$/;

export function readCrtList(listFile: string): CrtListResult {
  const out: CrtListResult = { entries: [], errors: [], warnings: [] };
  let text: string;
  try {
    text = fs.readFileSync(listFile, 'utf8');
  } catch (e) {
    out.errors.push(`${listFile}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    return out;
  }
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const where = `${listFile}:${n + 1}`;
    const line = lines[n].replace(/\r$/, '').trim();
    if (line === '' || line.startsWith('#')) continue;
    const words = line.split(/\s+/);
    const file = words[0];
    const rest = words.slice(1);
    if (rest.length > 0 && rest[0].startsWith('[')) {
      out.errors.push(`${where}: per-certificate ssl options ('${rest.join(' ')}') are not supported by gatehouse; put them on the bind line`);
      continue;
    }
    const bad = rest.find((w) => !SNI_FILTER.test(w));
    if (bad !== undefined) {
      out.errors.push(`${where}: '${bad}' is not an SNI filter (expected names such as www.example.com, *.example.com or !name)`);
      continue;
    }
    const abs = nodePath.resolve(file);
    const problem = checkPemFile(abs);
    if (problem.error) {
      out.errors.push(`${where}: certificate ${file}: ${problem.error}`);
      continue;
    }
    if (problem.warning) out.warnings.push(`${where}: certificate ${file}: ${problem.warning}`);
    const norm = (w: string) => w.toLowerCase().replace(/\.$/, '');
    out.entries.push({
      file: abs,
      filters: rest.filter((w) => !w.startsWith('!')).map(norm),
      excluded: rest.filter((w) => w.startsWith('!')).map((w) => norm(w.slice(1))),
    });
  }
  if (out.entries.length === 0 && out.errors.length === 0) out.errors.push(`${listFile}: no certificate in the list`);
  return out;
}
