// What rules see of a request and its response. The worker owns one of each per thread and
// refills them per request from strings it already has (uWS gives lower-case header names;
// upstream response names keep their case, so name comparisons fold case).

export class RequestView {
  /** as received, case-sensitive */
  method = 'GET';
  /** path without the query (uWS getUrl()); set-path rewrites it */
  path = '/';
  /** text after '?', '' for "/p?", null without '?' */
  query: string | null = null;
  /** "1.1", "1.0" */
  version = '1.1';
  /** flat [name, value, name, value, ...]; entries from headersLen on are stale. A name of '' is a deleted header. */
  headers: string[] = [];
  headersLen = 0;
  /** client address as text (IPv4 dotted or IPv6) */
  srcIp = '';
  /** the port the client connected to */
  dstPort = 0;
  /** the connection is TLS (ssl_fc) */
  tls = false;

  private urlCache: string | null = null;
  private urlPath = '';
  private urlQuery: string | null = null;

  /** Forget the previous request (the header array is kept and overwritten). */
  reset(): void {
    this.method = 'GET';
    this.path = '/';
    this.query = null;
    this.version = '1.1';
    this.headersLen = 0;
    this.srcIp = '';
    this.dstPort = 0;
    this.tls = false;
    this.urlCache = null;
  }

  addHeader(name: string, value: string): void {
    const h = this.headers;
    const n = this.headersLen;
    h[n] = name;
    h[n + 1] = value;
    this.headersLen = n + 2;
  }

  /** path + '?' + query, built once per distinct (path, query). */
  url(): string {
    if (this.urlCache === null || this.urlPath !== this.path || this.urlQuery !== this.query) {
      this.urlPath = this.path;
      this.urlQuery = this.query;
      this.urlCache = this.query === null ? this.path : this.path + '?' + this.query;
    }
    return this.urlCache;
  }
}

export class ResponseView {
  status = 0;
  /** flat [name, value, ...] as received (names keep their case); '' name = deleted */
  headers: string[] = [];
  headersLen = 0;

  reset(): void {
    this.status = 0;
    this.headersLen = 0;
  }

  addHeader(name: string, value: string): void {
    const h = this.headers;
    const n = this.headersLen;
    h[n] = name;
    h[n + 1] = value;
    this.headersLen = n + 2;
  }
}
