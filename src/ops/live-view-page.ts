/**
 * The live view page: one self-contained HTML file (no external scripts, fonts or images, so
 * it works on a door with no internet and under a strict CSP). It reads the Server-Sent
 * Events of /live/events (with the page's own ?token=) and draws each frame on a canvas:
 * green box + name + score for a recognised face, amber for an uncertain or unknown one, red with the
 * reason for a refused one, landmark dots; beside it the door state and the last events.
 */
export const LIVE_VIEW_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>facegate live view</title>
<style>
  :root { color-scheme: dark; --ok: #3ddc84; --warn: #ffb020; --bad: #ff5a5f; --fg: #e8eaed; --dim: #9aa0a6; --bg: #15171a; --card: #1f2226; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: var(--bg); color: var(--fg); }
  header { display: flex; align-items: center; gap: 12px; padding: 10px 16px; background: var(--card); border-bottom: 1px solid #2c3036; }
  header h1 { font-size: 16px; margin: 0; font-weight: 600; }
  .pill { padding: 2px 10px; border-radius: 999px; font-weight: 600; font-size: 12px; background: #2c3036; color: var(--dim); }
  .pill.ok { background: rgba(61,220,132,.15); color: var(--ok); }
  .pill.bad { background: rgba(255,90,95,.15); color: var(--bad); }
  .pill.warn { background: rgba(255,176,32,.15); color: var(--warn); }
  main { display: grid; grid-template-columns: minmax(0, 1fr) 340px; gap: 16px; padding: 16px; }
  .view { background: #000; border-radius: 8px; overflow: hidden; position: relative; }
  canvas { width: 100%; height: auto; max-height: calc(100vh - 120px); object-fit: contain; display: block; margin: 0 auto; }
  .meta { color: var(--dim); font-size: 12px; padding: 6px 10px; background: var(--card); }
  aside section { background: var(--card); border-radius: 8px; padding: 12px; margin-bottom: 16px; }
  aside h2 { font-size: 12px; text-transform: uppercase; letter-spacing: .06em; color: var(--dim); margin: 0 0 8px; }
  .door { font-size: 20px; font-weight: 700; }
  ul { list-style: none; margin: 0; padding: 0; }
  li { padding: 6px 0; border-top: 1px solid #2c3036; display: grid; grid-template-columns: 64px 1fr; gap: 8px; }
  li:first-child { border-top: 0; }
  .t { color: var(--dim); font-variant-numeric: tabular-nums; font-size: 12px; }
  .e-access_granted b { color: var(--ok); } .e-access_denied b, .e-door_forced b, .e-error b { color: var(--bad); } .e-unknown_face b { color: var(--warn); }
  .faces li { grid-template-columns: 14px 1fr; }
  .dot { width: 10px; height: 10px; border-radius: 50%; margin-top: 4px; }
  @media (max-width: 800px) { main { grid-template-columns: 1fr; } }
</style>
</head>
<body>
<header><h1>facegate live view</h1><span id="conn" class="pill">connecting…</span><span id="door" class="pill">door ?</span></header>
<main>
  <div>
    <div class="view"><canvas id="cv" width="480" height="360"></canvas></div>
    <div class="meta" id="meta">waiting for the first frame…</div>
  </div>
  <aside>
    <section><h2>Door</h2><div class="door" id="doorBig">?</div></section>
    <section><h2>Faces in this frame</h2><ul class="faces" id="faces"><li><span></span><span class="t">none</span></li></ul></section>
    <section><h2>Last events</h2><ul id="events"></ul></section>
  </aside>
</main>
<script>
(() => {
  const token = new URLSearchParams(location.search).get('token');
  const url = (location.pathname.endsWith('/') ? location.pathname : location.pathname + '/') + 'events' + (token ? '?token=' + encodeURIComponent(token) : '');
  const cv = document.getElementById('cv'), ctx = cv.getContext('2d');
  const colors = { recognised: '#3ddc84', uncertain: '#ffb020', unknown: '#ffb020', refused: '#ff5a5f' };
  let frames = 0, firstAt = 0;
  const text = (s) => document.createTextNode(String(s));
  function label(f) {
    const pending = f.liveness && f.liveness.verdict === 'undecided' ? ['liveness pending'] : [];
    const marks = f.reasons.length || pending.length ? ' (' + f.reasons.concat(pending).join(', ') + ')' : '';
    const who = f.name || f.personId;
    const score = typeof f.score === 'number' ? ' ' + f.score.toFixed(2) : '';
    if (f.verdict === 'recognised') return who + score + marks;
    if (f.verdict === 'uncertain') return who + '?' + score + marks;
    if (f.verdict === 'unknown') return 'unknown' + (who ? ' (closest ' + who + score + ')' : '') + marks;
    return 'refused: ' + f.reasons.join(', ') + (who && f.outcome === 'compared' ? ' (' + who + score + ')' : '');
  }
  function showDoor(d) {
    const el = document.getElementById('door'), big = document.getElementById('doorBig');
    if (!d) { el.textContent = 'door ?'; big.textContent = '?'; return; }
    const s = (d.locked ? 'locked' : 'UNLOCKED') + (d.open === null ? '' : d.open ? ', open' : ', closed');
    el.textContent = 'door ' + s; big.textContent = s;
    el.className = 'pill ' + (d.locked ? 'ok' : 'warn');
    big.style.color = d.locked ? 'var(--fg)' : 'var(--warn)';
  }
  function addEvent(e, atEnd) {
    const ul = document.getElementById('events'), li = document.createElement('li');
    li.className = 'e-' + e.type;
    const t = document.createElement('span'); t.className = 't'; t.append(text(new Date(e.ts).toLocaleTimeString([], { hour12: false })));
    const d = document.createElement('span'); const b = document.createElement('b'); b.append(text(e.type.replace(/_/g, ' ')));
    d.append(b);
    const p = e.person || e.closest || {};
    const who = p.name || p.id || e.personId || '';
    const score = typeof e.score === 'number' ? e.score.toFixed(2) : '';
    const why = e.reason || e.source || '';
    if (who || score || why) d.append(text(' ' + [who, score, why].filter(Boolean).join(' · ')));
    li.append(t, d);
    if (atEnd) ul.append(li); else ul.prepend(li);
    while (ul.children.length > 12) ul.lastChild.remove();
  }
  function drawFaces(m) {
    const s = m.scale;
    ctx.lineWidth = 2; ctx.font = '600 13px system-ui, sans-serif';
    for (const f of m.faces) {
      const c = colors[f.verdict];
      const x = f.box.x * s, y = f.box.y * s, w = f.box.width * s, h = f.box.height * s;
      ctx.strokeStyle = c; ctx.strokeRect(x, y, w, h);
      const l = label(f), tw = ctx.measureText(l).width + 8;
      const ly = y > 20 ? y - 20 : y + h;
      ctx.fillStyle = c; ctx.fillRect(x - 1, ly, tw, 20);
      ctx.fillStyle = '#000'; ctx.fillText(l, x + 3, ly + 15);
      ctx.fillStyle = c;
      for (const p of f.landmarks || []) { ctx.beginPath(); ctx.arc(p.x * s, p.y * s, 1.8, 0, 7); ctx.fill(); }
    }
    const ul = document.getElementById('faces'); ul.replaceChildren();
    if (!m.faces.length) { const li = document.createElement('li'); li.append(document.createElement('span')); const t = document.createElement('span'); t.className = 't'; t.append(text('none')); li.append(t); ul.append(li); }
    for (const f of m.faces) {
      const li = document.createElement('li'); const dot = document.createElement('span'); dot.className = 'dot'; dot.style.background = colors[f.verdict];
      const t = document.createElement('span'); t.append(text(label(f))); li.append(dot, t); ul.append(li);
    }
  }
  const es = new EventSource(url);
  es.onopen = () => { const c = document.getElementById('conn'); c.textContent = 'live'; c.className = 'pill ok'; };
  es.onerror = () => { const c = document.getElementById('conn'); c.textContent = 'reconnecting…'; c.className = 'pill bad'; };
  es.addEventListener('hello', (ev) => { const h = JSON.parse(ev.data); showDoor(h.door); for (const e of h.events) addEvent(e, true); });
  es.addEventListener('door', (ev) => showDoor(JSON.parse(ev.data)));
  es.addEventListener('event', (ev) => addEvent(JSON.parse(ev.data), false));
  es.addEventListener('frame', (ev) => {
    const m = JSON.parse(ev.data);
    const img = new Image();
    img.onload = () => {
      if (cv.width !== img.width || cv.height !== img.height) { cv.width = img.width; cv.height = img.height; }
      ctx.drawImage(img, 0, 0); drawFaces(m); showDoor(m.door);
      frames++; if (!firstAt) firstAt = performance.now();
      const fps = frames > 1 ? (frames - 1) / ((performance.now() - firstAt) / 1000) : 0;
      document.getElementById('meta').textContent = 'frame #' + m.seq + ' · camera ' + m.width + '×' + m.height + ' · ' + fps.toFixed(1) + ' images/s shown';
      cv.dataset.seq = String(m.seq);
    };
    img.src = 'data:image/jpeg;base64,' + m.jpeg;
  });
})();
</script>
</body>
</html>
`;
