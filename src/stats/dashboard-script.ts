// The stats page's only script, inlined into the page (no CDN, works offline). It loads
// `<uri>;history` once, then every second asks for the seconds after the last one it holds and
// redraws: one chart per proxy (requests/s and 5xx/s, p50/p99 latency, sessions and queue, the
// seconds a backend was DOWN shaded red) and a sparkline in every row (requests/s, p99, and the
// seconds a server was DOWN/MAINT/DRAIN as a coloured band). The tables are refreshed every
// `refresh` seconds by fetching `<uri>;norefresh` and swapping them in (no page reload); with
// scripts off the page falls back to <meta refresh> (in <noscript>).
// Plain ES2017 in a string: it runs in the browser, not in Node.
export const DASHBOARD_SCRIPT = String.raw`(function () {
  'use strict';
  var body = document.body;
  var uri = body.getAttribute('data-uri');
  var refresh = Number(body.getAttribute('data-refresh')) || 0;
  var origin = location.protocol + '//' + location.host;
  var MAX = 900;
  var FIELDS = ['req', 'err5', 'scur', 'qcur', 'p50', 'p99', 'status'];
  var DOWN = 0, MAINT = 2, DRAIN = 3;
  var H = { t: [], s: {} };
  var state = { polls: 0, errors: 0, draws: 0, lastError: '' };
  window.gatehouseDashboard = { history: H, state: state };

  function key(proxy, name) { return proxy + '\u0000' + name; }

  function merge(j) {
    var since = H.t.length ? H.t[H.t.length - 1] : -1;
    var skip = 0;
    while (skip < j.t.length && j.t[skip] <= since) skip++;
    var add = j.t.length - skip;
    if (add <= 0) return false;
    for (var i = skip; i < j.t.length; i++) H.t.push(j.t[i]);
    var drop = Math.max(0, H.t.length - MAX);
    if (drop) H.t.splice(0, drop);
    var seen = {};
    for (var k = 0; k < j.series.length; k++) {
      var x = j.series[k];
      var id = key(x.proxy, x.name);
      seen[id] = true;
      var s = H.s[id];
      if (!s) {
        s = H.s[id] = { type: x.type, proxy: x.proxy, name: x.name };
        for (var f = 0; f < FIELDS.length; f++) s[FIELDS[f]] = new Array(H.t.length - add).fill(null);
      }
      for (var f2 = 0; f2 < FIELDS.length; f2++) {
        var a = s[FIELDS[f2]], v = x[FIELDS[f2]];
        for (var q = skip; q < v.length; q++) a.push(v[q]);
        if (a.length > H.t.length) a.splice(0, a.length - H.t.length);
      }
    }
    return true;
  }

  function get(url, type, done) {
    var x = new XMLHttpRequest();
    x.open('GET', origin + url);
    x.responseType = type;
    x.onload = function () {
      if (x.status === 200) done(x.response);
      else { state.errors++; state.lastError = 'HTTP ' + x.status; }
    };
    x.onerror = function () { state.errors++; state.lastError = 'network'; };
    x.send();
  }

  var busy = false;
  function poll() {
    if (busy) return;
    busy = true;
    var url = uri + ';history' + (H.t.length ? ';since=' + H.t[H.t.length - 1] : '');
    get(url, 'json', function (j) {
      busy = false;
      state.polls++;
      if (j && merge(j)) drawAll();
    });
    setTimeout(function () { busy = false; }, 5000);
  }

  // ---- drawing ----
  function fit(c) {
    var w = Math.max(40, Math.floor(c.clientWidth));
    var h = Math.max(10, Math.floor(c.clientHeight));
    if (c.width !== w) c.width = w;
    if (c.height !== h) c.height = h;
    return c.getContext('2d');
  }

  function maxOf(a, from) {
    var m = 0;
    for (var i = from; i < a.length; i++) if (a[i] !== null && a[i] > m) m = a[i];
    return m;
  }

  function nice(v) {
    if (v <= 0) return 1;
    var p = Math.pow(10, Math.floor(Math.log10(v)));
    var r = v / p;
    return (r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10) * p;
  }

  function fmt(v) {
    if (v === null || v === undefined) return '-';
    if (v === Math.round(v)) return String(v);
    if (v >= 100) return String(Math.round(v));
    if (v >= 10) return v.toFixed(1);
    return v.toFixed(2);
  }

  // seconds across a chart: what is held, at least 2 minutes (a fresh start is not a sliver at
  // the right edge), at most the 15 minutes kept
  function span() { return Math.max(120, Math.min(MAX, H.t.length)); }
  // x position of sample i of n in a box [x0, x0+w): the newest sample at the right edge
  function xs(i, n, x0, w) { return x0 + w - (n - i) * (w / span()); }

  function band(g, s, x0, y0, w, h, colors) {
    var n = H.t.length, st = s.status;
    for (var i = 0; i < n; i++) {
      var c = colors[st[i]];
      if (!c) continue;
      g.fillStyle = c;
      var x = xs(i, n, x0, w);
      g.fillRect(Math.floor(x), y0, Math.ceil(w / span()) + 1, h);
    }
  }

  // one bar a second, on whole pixels (crisp at 1 px a second), at least 1 px high when non-zero
  function area(g, a, x0, y0, w, h, max, color) {
    var n = H.t.length, step = w / span();
    g.fillStyle = color;
    for (var i = 0; i < n; i++) {
      var v = a[i];
      if (!(v > 0)) continue;
      var xa = Math.round(xs(i, n, x0, w)), xb = Math.max(xa + 1, Math.round(xs(i, n, x0, w) + step));
      var bh = Math.max(1, Math.round(Math.min(1, v / max) * h));
      g.fillRect(xa, y0 + h - bh, xb - xa, bh);
    }
  }

  // a step line: each second a flat segment across its own width, so one second shows too.
  // flat: no rises between seconds (sparklines: at a pixel a second, the rises would cover
  // the requests bar under them from top to bottom)
  function line(g, a, x0, y0, w, h, max, color, flat) {
    var n = H.t.length, on = false, step = w / span();
    g.strokeStyle = color;
    g.lineWidth = 1.5;
    g.beginPath();
    for (var i = 0; i < n; i++) {
      if (a[i] === null) { on = false; continue; }
      var x = xs(i, n, x0, w), y = Math.round(y0 + h - Math.min(1, a[i] / max) * (h - 2)) - 0.5;
      if (on && !flat) g.lineTo(x, y); else g.moveTo(x, y);
      g.lineTo(x + step, y);
      on = true;
    }
    g.stroke();
  }

  var BAND_PROXY = { 0: 'rgba(255,80,80,0.25)' };
  var BAND_ROW = { 0: '#ff9090', 2: '#c07820', 3: '#20a0ff' };

  function panel(g, x0, y0, w, h, title, series, unit) {
    g.strokeStyle = '#ccd';
    g.lineWidth = 1;
    g.strokeRect(x0 + 0.5, y0 + 0.5, w - 1, h - 1);
    var max = 0;
    for (var i = 0; i < series.length; i++) max = Math.max(max, maxOf(series[i].a, 0));
    max = nice(max);
    for (var j = 0; j < series.length; j++) {
      var sr = series[j];
      if (sr.fill) area(g, sr.a, x0 + 1, y0 + 1, w - 2, h - 2, max, sr.color);
      else line(g, sr.a, x0 + 1, y0 + 1, w - 2, h - 2, max, sr.color);
    }
    g.fillStyle = '#333';
    g.font = '11px Arial, sans-serif';
    var text = title + '  (max ' + fmt(max) + unit + ')';
    for (var k = 0; k < series.length; k++) {
      var a = series[k].a;
      text += '   ' + series[k].label + ' ' + fmt(a.length ? a[a.length - 1] : null);
    }
    g.fillText(text, x0 + 6, y0 + 13);
  }

  // a tick and a label every minute (every 5 past 5 minutes), the newest second at the right
  function axis(g, x0, y0, w) {
    var n = H.t.length, sp = span(), step = sp > 300 ? 300 : 60;
    g.fillStyle = '#666';
    g.font = '10px Arial, sans-serif';
    g.strokeStyle = '#dde';
    g.lineWidth = 1;
    for (var ago = step; ago < sp; ago += step) {
      var x = Math.round(x0 + w - ago * (w / sp)) + 0.5;
      g.beginPath();
      g.moveTo(x, 0);
      g.lineTo(x, y0 + 3);
      g.stroke();
      g.fillText('-' + ago / 60 + ' min', x - 14, y0 + 12);
    }
    if (n) g.fillText(new Date(H.t[n - 1] * 1000).toISOString().slice(11, 19) + ' UTC', x0 + w - 70, y0 + 12);
  }

  function drawProxy(c) {
    var s = H.s[key(c.getAttribute('data-proxy'), c.getAttribute('data-name'))];
    var g = fit(c);
    g.clearRect(0, 0, c.width, c.height);
    if (!s) return;
    var W = c.width, ph = Math.floor((c.height - 16) / 3);
    band(g, H.s[key(c.getAttribute('data-proxy'), c.getAttribute('data-band'))] || s, 0, 0, W, 3 * ph + 4, BAND_PROXY);
    axis(g, 0, 3 * ph + 4, W);
    panel(g, 0, 0, W, ph, 'requests/s', [{ a: s.req, color: '#4a7fb5', fill: true, label: 'req' }, { a: s.err5, color: '#d03030', fill: true, label: '5xx' }], '/s');
    panel(g, 0, ph + 2, W, ph, 'latency ms', [{ a: s.p99, color: '#e08020', label: 'p99' }, { a: s.p50, color: '#2a9a3a', label: 'p50' }], ' ms');
    panel(g, 0, 2 * ph + 4, W, ph, 'sessions', [{ a: s.scur, color: '#7050b0', label: 'cur' }, { a: s.qcur, color: '#a05020', label: 'queue' }], '');
    mark(c, s);
  }

  function drawSpark(c) {
    var s = H.s[key(c.getAttribute('data-proxy'), c.getAttribute('data-name'))];
    var g = fit(c);
    g.clearRect(0, 0, c.width, c.height);
    if (!s) return;
    var W = c.width, h = c.height;
    band(g, s, 0, 0, W, h, BAND_ROW);
    area(g, s.req, 0, 0, W, h, nice(maxOf(s.req, 0)), '#1f4e79');
    line(g, s.p99, 0, 0, W, h, nice(maxOf(s.p99, 0)), '#e08020', true);
    mark(c, s);
  }

  // what was drawn, for scripts and tests: seconds held, seconds with traffic, seconds down
  function mark(c, s) {
    var traffic = 0, down = 0, maint = 0;
    for (var i = 0; i < s.req.length; i++) {
      if (s.req[i] > 0) traffic++;
      if (s.status[i] === DOWN) down++;
      if (s.status[i] === MAINT) maint++;
    }
    c.setAttribute('data-points', String(s.req.length));
    c.setAttribute('data-traffic', String(traffic));
    c.setAttribute('data-down', String(down));
    c.setAttribute('data-maint', String(maint));
    c.setAttribute('data-last', String(H.t[H.t.length - 1]));
  }

  function drawAll() {
    var charts = document.querySelectorAll('canvas.pxchart');
    for (var i = 0; i < charts.length; i++) drawProxy(charts[i]);
    var sparks = document.querySelectorAll('canvas.spark');
    for (var j = 0; j < sparks.length; j++) drawSpark(sparks[j]);
    state.draws++;
  }

  // ---- tables: swapped in place every refresh seconds ----
  function swapTables(html) {
    var doc = new DOMParser().parseFromString(html, 'text/html');
    var now = document.querySelectorAll('section.proxy');
    var next = doc.querySelectorAll('section.proxy');
    if (now.length !== next.length) { location.reload(); return; }
    for (var i = 0; i < now.length; i++) {
      if (now[i].id !== next[i].id) { location.reload(); return; }
      var checked = {};
      var boxes = now[i].querySelectorAll('input[name=s]:checked');
      for (var b = 0; b < boxes.length; b++) checked[boxes[b].value] = true;
      var t0 = now[i].querySelector('table.stats'), t1 = next[i].querySelector('table.stats');
      if (t0 && t1) t0.parentNode.replaceChild(document.importNode(t1, true), t0);
      var nb = now[i].querySelectorAll('input[name=s]');
      for (var k = 0; k < nb.length; k++) if (checked[nb[k].value]) nb[k].checked = true;
    }
    var ids = ['uptime', 'updated', 'workers'];
    for (var u = 0; u < ids.length; u++) {
      var c0 = document.getElementById(ids[u]), c1 = doc.getElementById(ids[u]);
      if (c0 && c1) c0.innerHTML = c1.innerHTML;
    }
    var sparks = document.querySelectorAll('canvas.spark');
    for (var j = 0; j < sparks.length; j++) drawSpark(sparks[j]);
  }

  if (refresh > 0) setInterval(function () { get(uri + ';norefresh', 'text', swapTables); }, refresh * 1000);
  window.addEventListener('resize', drawAll);
  poll();
  setInterval(poll, 1000);
})();`;
