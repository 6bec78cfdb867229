// Custom error pages at run time (errorfile / errorloc / errorfiles): which page answers an error
// of a request. As HAProxy: the backend's page for the status when the request reached a backend,
// else the frontend's (a listen is both), else none: the built-in page is sent.
//
// HOOK for the request path (src/worker, src/proxy): build one ErrorPageTable per worker from the
// Config, and wherever an error answer is written (the 502/503/504 of src/worker/error-pages.ts,
// the 400/408/413/414/431/501 of request validation, queue timeouts), call
// `table.errorPage(frontendIndex, backendIndex, status)` (backendIndex -1 before one is chosen);
// when it returns a page, write page.status/page.reason, page.headers (flat, lower-case names)
// and page.body instead of the built-in page. deny/return rules already use the pages (the rule
// engine compiles them in), so nothing else is needed for those.
import type { Config, CustomErrorPage } from '../config/model';

export class ErrorPageTable {
  private readonly fe: (Map<number, CustomErrorPage> | null)[];
  private readonly be: (Map<number, CustomErrorPage> | null)[];

  constructor(config: Config) {
    const table = (pages: Record<string, CustomErrorPage> | undefined): Map<number, CustomErrorPage> | null =>
      pages && Object.keys(pages).length ? new Map(Object.entries(pages).map(([k, v]) => [Number(k), v])) : null;
    this.fe = config.frontends.map((f) => table(f.errorPages));
    this.be = config.backends.map((b) => table(b.errorPages));
  }

  /** Whether any proxy has a custom page (the request path may skip the lookup otherwise). */
  get any(): boolean {
    return this.fe.some((m) => m !== null) || this.be.some((m) => m !== null);
  }

  /** The page for an error `status` of a request on `frontend`, routed to `backend` (-1: none yet). */
  errorPage(frontend: number, backend: number, status: number): CustomErrorPage | null {
    if (backend >= 0) {
      const b = this.be[backend];
      const p = b === null ? undefined : b.get(status);
      if (p !== undefined) return p;
    }
    const f = this.fe[frontend];
    if (f === null || f === undefined) return null;
    return f.get(status) ?? null;
  }
}
