// agmem Coordinator web dashboard: read-only, same origin, no libraries.
// Reads the API with the visitor's key (sessionStorage, sent as Authorization: Bearer) and
// follows GET /events with fetch() (EventSource cannot send headers).
'use strict';

const API = new URL('..', location.href); // the dashboard lives at <base>/ui/
const KEY = 'agmem.key';
const PAGE = 50;
const $ = (id) => document.getElementById(id);

const state = {
  started: null, sequence: null, lastEventId: null, running: false, abort: null,
  agents: { offset: 0, total: 0, sort: '-last_seen', q: '' },
  topics: { offset: 0, total: 0, q: '' },
  facts: { offset: 0, total: 0, q: '' },
  detail: { agent: null, pages: [] },
  topic: null,
  tab: 'agents',
  perMinute: new Map(), // minute number -> pushes
};

class AuthError extends Error {}

function headers(extra, anonymous) {
  const h = Object.assign({}, extra);
  const key = sessionStorage.getItem(KEY);
  if (key && !anonymous) h.Authorization = 'Bearer ' + key;
  return h;
}

// `anonymous`: without the key (GET / is open, and a wrong key must not fail it).
async function api(path, anonymous) {
  const r = await fetch(new URL(path, API), { headers: headers({}, anonymous), cache: 'no-store' });
  if (r.status === 401 || r.status === 403) throw new AuthError(await detail(r));
  if (!r.ok) throw new Error(path + ': HTTP ' + r.status + ' ' + (await detail(r)));
  return r.json();
}

async function detail(r) {
  try {
    const body = await r.json();
    return typeof body.detail === 'string' ? body.detail : JSON.stringify(body.detail);
  } catch (e) {
    return r.statusText;
  }
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function row(cells, numeric) {
  const tr = el('tr');
  cells.forEach((c, i) => tr.append(c instanceof Node ? wrap(c) : el('td', c, numeric && numeric.includes(i) ? 'num' : '')));
  return tr;
}

function wrap(node) {
  const td = el('td');
  td.append(node);
  return td;
}

const fmt = new Intl.NumberFormat();
function when(iso) {
  if (!iso) return '–';
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toLocaleString();
}

function duration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
  return (d ? d + 'd ' : '') + (d || h ? h + 'h ' : '') + m + 'm ' + (s % 60) + 's';
}

// --- sign-in ---------------------------------------------------------------------------

function showSignIn(message) {
  stopStream();
  $('app').hidden = true;
  $('signout').hidden = true;
  $('signin').hidden = false;
  $('signin-msg').textContent = message || '';
  setConn(false, 'signed out');
  $('key').focus();
}

$('signin-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  sessionStorage.setItem(KEY, $('key').value.trim());
  $('key').value = '';
  start();
});

$('signout').addEventListener('click', () => {
  sessionStorage.removeItem(KEY);
  showSignIn('Signed out.');
});

async function start() {
  let root;
  try {
    // GET / is open; it says whether push and pull need a key.
    root = await api('./', true);
  } catch (e) {
    setConn(false, 'server unreachable');
    setTimeout(start, 3000);
    return;
  }
  const key = sessionStorage.getItem(KEY);
  if (root.key_required && !key) {
    showSignIn('');
    return;
  }
  try {
    await api('agents?limit=1');
  } catch (e) {
    if (e instanceof AuthError) {
      sessionStorage.removeItem(KEY);
      showSignIn('The key was refused: ' + e.message);
      return;
    }
    setConn(false, 'error: ' + e.message);
    setTimeout(start, 3000);
    return;
  }
  $('signin').hidden = true;
  $('app').hidden = false;
  $('signout').hidden = !key;
  showRoot(root);
  refreshAll();
  startStream();
}

function onError(e) {
  if (e instanceof AuthError) {
    sessionStorage.removeItem(KEY);
    showSignIn('The key was refused: ' + e.message);
  } else {
    setConn(false, 'error: ' + e.message);
  }
}

// --- summary ---------------------------------------------------------------------------

function showRoot(root) {
  state.started = root.started_at ? new Date(root.started_at) : null;
  $('s-address').textContent = API.host;
  $('s-mode').textContent = root.merge_mode || '–';
  $('s-agents').textContent = fmt.format(root.total_agents);
  $('s-pushes').textContent = fmt.format(root.total_pushes);
  tickUptime();
}

function tickUptime() {
  if (state.started) $('s-uptime').textContent = duration(Date.now() - state.started);
}

async function refreshSummary() {
  const [root, topics, facts] = await Promise.all([api('./', true), api('topics?limit=1'), api('facts?limit=1')]);
  showRoot(root);
  $('s-topics').textContent = fmt.format(topics.total);
  $('s-facts').textContent = fmt.format(facts.total);
}

// --- tables ----------------------------------------------------------------------------

function pager(name, page, load) {
  const box = document.querySelector('.pager[data-for="' + name + '"]');
  box.replaceChildren();
  const prev = el('button', '‹ Previous');
  const next = el('button', 'Next ›');
  prev.type = next.type = 'button';
  prev.disabled = page.offset === 0;
  next.disabled = page.offset + PAGE >= page.total;
  prev.addEventListener('click', () => { page.offset = Math.max(0, page.offset - PAGE); load().catch(onError); });
  next.addEventListener('click', () => { page.offset += PAGE; load().catch(onError); });
  const shown = page.total ? (page.offset + 1) + '–' + Math.min(page.offset + PAGE, page.total) : '0';
  box.append(prev, el('span', shown + ' of ' + fmt.format(page.total), 'muted'), next);
}

function query(page, extra) {
  const p = new URLSearchParams({ offset: page.offset, limit: PAGE });
  if (page.q) p.set('q', page.q);
  for (const [k, v] of Object.entries(extra || {})) p.set(k, v);
  return p.toString();
}

async function loadAgents() {
  const a = state.agents;
  const data = await api('agents?' + query(a, { sort: a.sort }));
  a.total = data.total;
  const body = document.querySelector('#agents-table tbody');
  body.replaceChildren(...data.agents.map((g) => {
    const topics = Object.keys(g.topic_counts).length;
    const tr = row([g.agent_id, when(g.last_seen), when(g.first_seen), fmt.format(g.push_count), fmt.format(g.fact_count), topics], [3, 4, 5]);
    tr.classList.add('click');
    if (g.agent_id === state.detail.agent) tr.classList.add('sel');
    tr.addEventListener('click', () => openAgent(g.agent_id).catch(onError));
    return tr;
  }));
  pager('agents', a, loadAgents);
  document.querySelectorAll('#agents-table th[data-sort]').forEach((th) => {
    th.classList.remove('asc', 'desc');
    const f = th.dataset.sort;
    if (a.sort === f) th.classList.add('asc');
    if (a.sort === '-' + f) th.classList.add('desc');
  });
}

document.querySelectorAll('#agents-table th[data-sort]').forEach((th) => {
  th.addEventListener('click', () => {
    const f = th.dataset.sort;
    const a = state.agents;
    a.sort = a.sort === '-' + f ? f : a.sort === f ? '-' + f : (f === 'agent_id' ? f : '-' + f);
    a.offset = 0;
    loadAgents().catch(onError);
  });
});

async function openAgent(id, before) {
  const d = state.detail;
  if (d.agent !== id) d.pages = [];
  d.agent = id;
  const p = new URLSearchParams({ limit: 20 });
  if (before) p.set('before', before);
  const data = await api('agents/' + encodeURIComponent(id) + '?' + p);
  const g = data.agent;
  $('agent-detail').hidden = false;
  $('d-agent').textContent = g.agent_id;
  $('d-meta').textContent = 'Summary of ' + when(g.timestamp) + ' · ' + fmt.format(g.push_count) + ' pushes · ' +
    fmt.format(g.fact_count) + ' facts · first seen ' + when(g.first_seen);
  const topics = Object.entries(g.topic_counts).sort((x, y) => y[1] - x[1]);
  document.querySelector('#d-topics tbody').replaceChildren(...topics.map(([t, c]) => row([t, fmt.format(c)], [1])));
  document.querySelector('#d-history tbody').replaceChildren(...data.history.map((h) =>
    row([h.id, when(h.timestamp), when(h.received_at), h.source, Object.keys(h.topic_counts).length, h.fact_hashes.length], [4, 5])));
  const older = $('d-older');
  older.disabled = data.next_before === null;
  older.onclick = () => { d.pages.push(before); openAgent(id, data.next_before).catch(onError); };
  const newer = $('d-newer');
  newer.disabled = !before;
  newer.onclick = () => { d.pages = []; openAgent(id).catch(onError); };
}

$('d-close').addEventListener('click', () => { $('agent-detail').hidden = true; state.detail.agent = null; });

async function loadTopics() {
  const t = state.topics;
  const data = await api('topics?' + query(t));
  t.total = data.total;
  document.querySelector('#topics-table tbody').replaceChildren(...data.topics.map((x) => {
    const tr = row([x.topic, fmt.format(x.total), fmt.format(x.agents)], [1, 2]);
    tr.classList.add('click');
    tr.addEventListener('click', () => openTopic(x.topic).catch(onError));
    return tr;
  }));
  pager('topics', t, loadTopics);
}

async function openTopic(topic) {
  state.topic = topic;
  const data = await api('topics/' + encodeURIComponent(topic));
  $('topic-detail').hidden = false;
  $('t-topic').textContent = topic + ' — ' + fmt.format(data.total);
  document.querySelector('#t-agents tbody').replaceChildren(...data.agents.map((a) => row([a.agent_id, fmt.format(a.count)], [1])));
}

$('t-close').addEventListener('click', () => { $('topic-detail').hidden = true; state.topic = null; });

async function loadFacts() {
  const f = state.facts;
  const data = await api('facts?' + query(f));
  f.total = data.total;
  document.querySelector('#facts-table tbody').replaceChildren(...data.facts.map((x) => row([x.fact, fmt.format(x.agents)], [1])));
  pager('facts', f, loadFacts);
}

function search(input, page, load) {
  let timer = null;
  $(input).addEventListener('input', (ev) => {
    clearTimeout(timer);
    timer = setTimeout(() => { page.q = ev.target.value; page.offset = 0; load().catch(onError); }, 250);
  });
}
search('agents-q', state.agents, loadAgents);
search('topics-q', state.topics, loadTopics);
search('facts-q', state.facts, loadFacts);

const loaders = { agents: loadAgents, topics: loadTopics, facts: loadFacts, activity: async () => {} };

document.querySelectorAll('.tabs button').forEach((b) => {
  b.addEventListener('click', () => {
    state.tab = b.dataset.tab;
    document.querySelectorAll('.tabs button').forEach((x) => x.classList.toggle('active', x === b));
    document.querySelectorAll('.tab').forEach((s) => { s.hidden = s.id !== 'tab-' + state.tab; });
    loaders[state.tab]().catch(onError);
  });
});

// How long the last refresh took: a slow one (a search through a million facts) makes the
// next one wait longer, so a tab left open never keeps the server busy.
let refreshMs = 0;
async function refreshAll() {
  const started = performance.now();
  try {
    await Promise.all([refreshSummary(), loaders[state.tab]()]);
    if (state.detail.agent && state.tab === 'agents' && !state.detail.pages.length) await openAgent(state.detail.agent).catch(() => {});
    if (state.topic && state.tab === 'topics') await openTopic(state.topic).catch(() => {});
  } catch (e) {
    onError(e);
  }
  refreshMs = performance.now() - started;
}

// Changes arrive in bursts: the tables refresh at most twice a second, and at most a tenth
// of the time is spent refreshing.
let refreshTimer = null;
function scheduleRefresh() {
  if (refreshTimer) return;
  refreshTimer = setTimeout(() => { refreshTimer = null; refreshAll(); }, Math.max(500, 10 * refreshMs));
}

// --- pushes per minute -----------------------------------------------------------------

// The last hour from the history (on load and after a reload); live pushes add to it.
async function loadPerMinute() {
  const data = await api('pushes/per-minute');
  state.perMinute.clear();
  for (const m of data.minutes) state.perMinute.set(Math.floor(Date.parse(m.minute) / 60000), m.pushes);
  drawChart();
}

function countPush(at) {
  const minute = Math.floor((at ? Date.parse(at) : Date.now()) / 60000);
  state.perMinute.set(minute, (state.perMinute.get(minute) || 0) + 1);
  drawChart();
}

function drawChart() {
  const canvas = $('chart');
  const ratio = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || 900, h = canvas.clientHeight || 140;
  if (canvas.width !== Math.round(w * ratio)) { canvas.width = Math.round(w * ratio); canvas.height = Math.round(h * ratio); }
  const ctx = canvas.getContext('2d');
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, w, h);
  const style = getComputedStyle(document.documentElement);
  const now = Math.floor(Date.now() / 60000);
  const values = [];
  for (let m = now - 59; m <= now; ++m) values.push(state.perMinute.get(m) || 0);
  const max = Math.max(1, ...values);
  const left = 36, bottom = h - 16, top = 8, bw = (w - left - 4) / values.length;
  ctx.fillStyle = style.getPropertyValue('--muted');
  ctx.font = '11px system-ui, sans-serif';
  ctx.fillText(String(max), 4, top + 8);
  ctx.fillText('0', 4, bottom);
  ctx.fillText('-60 min', left, h - 2);
  ctx.fillText('now', w - 26, h - 2);
  ctx.strokeStyle = style.getPropertyValue('--line');
  ctx.beginPath(); ctx.moveTo(left, bottom + .5); ctx.lineTo(w, bottom + .5); ctx.stroke();
  ctx.fillStyle = style.getPropertyValue('--accent');
  values.forEach((v, i) => {
    const bh = (bottom - top) * v / max;
    ctx.fillRect(left + i * bw + 1, bottom - bh, Math.max(1, bw - 2), bh);
  });
}

// --- activity --------------------------------------------------------------------------

function describe(e) {
  if (e.type === 'push') {
    if (!e.local) return 'through another instance';
    if (!e.changed) return 'unchanged (stale or repeated)';
    const signed = (v) => (v > 0 ? '+' : '−') + Math.abs(v);
    const t = Object.entries(e.topic_deltas).map(([k, v]) => k + ' ' + signed(v));
    const parts = [];
    if (t.length) parts.push(t.slice(0, 6).join(', ') + (t.length > 6 ? ', …' : ''));
    if (e.facts_added_count) parts.push(signed(e.facts_added_count) + ' facts');
    if (e.facts_removed_count) parts.push(signed(-e.facts_removed_count) + ' facts');
    return parts.join(' · ') || 'no change in counts';
  }
  if (e.type === 'agent_removed') return 'agent and its history removed';
  if (e.type === 'reset') return 'every summary deleted';
  return e.reason || '';
}

function addActivity(e) {
  const body = document.querySelector('#activity-table tbody');
  const tr = row([when(e.received_at || e.at), e.type.replace('_', ' '), e.agent_id || '', describe(e), e.sequence], [4]);
  tr.classList.add('fresh');
  body.prepend(tr);
  while (body.rows.length > 200) body.deleteRow(body.rows.length - 1);
}

// --- the event stream ------------------------------------------------------------------

function setConn(on, text) {
  const c = $('conn');
  c.className = 'conn ' + (on ? 'on' : 'off');
  c.textContent = text;
}

function handleFrame(frame) {
  let event = 'message', data = '';
  for (const line of frame.split('\n')) {
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'id') state.lastEventId = value;
    else if (field === 'event') event = value;
    else if (field === 'data') data += (data ? '\n' : '') + value;
  }
  if (!data) return;
  const e = JSON.parse(data);
  state.sequence = e.sequence;
  $('s-sequence').textContent = fmt.format(e.sequence);
  if (event === 'hello' || event === 'reload') {
    if (event === 'reload' || !e.resumed) {
      refreshAll();
      loadPerMinute().catch(onError);
    }
    return;
  }
  if (event === 'push') countPush(e.received_at);
  addActivity(e);
  scheduleRefresh();
}

function stopStream() {
  state.running = false;
  if (state.abort) state.abort.abort();
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function startStream() {
  if (state.running) return;
  state.running = true;
  let delay = 1000;
  while (state.running) {
    const ctl = new AbortController();
    state.abort = ctl;
    // Heartbeats come every 15 s: silence for 45 s means the connection is gone.
    let watchdog = setTimeout(() => ctl.abort(), 45000);
    try {
      const extra = state.lastEventId ? { 'Last-Event-ID': state.lastEventId } : {};
      const r = await fetch(new URL('events', API), { headers: headers(extra), cache: 'no-store', signal: ctl.signal });
      if (r.status === 401 || r.status === 403) {
        onError(new AuthError(await detail(r)));
        return;
      }
      if (!r.ok) throw new Error('HTTP ' + r.status);
      setConn(true, 'live');
      delay = 1000;
      const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        clearTimeout(watchdog);
        watchdog = setTimeout(() => ctl.abort(), 45000);
        buffer += value.replace(/\r\n?/g, '\n');
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          handleFrame(frame);
        }
      }
    } catch (e) {
      // aborted or the network failed: reconnect below
    } finally {
      clearTimeout(watchdog);
    }
    if (!state.running) return;
    for (let left = Math.round(delay / 1000); left > 0 && state.running; --left) {
      setConn(false, 'disconnected — reconnecting in ' + left + ' s');
      await sleep(1000);
    }
    delay = Math.min(delay * 2, 30000);
  }
}

setInterval(() => { tickUptime(); drawChart(); }, 1000);
window.addEventListener('resize', drawChart);
start();
