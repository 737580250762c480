// The API docs page (/docs, /redoc): rendered from /openapi.json, each operation can be
// tried from the page. Same origin, same CSP as the dashboard, the same key (sessionStorage).
'use strict';

const BASE = new URL('.', location.href);
const KEY = 'agmem.key';
const $ = (id) => document.getElementById(id);

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function showKeyState() {
  $('key-state').textContent = sessionStorage.getItem(KEY) ? 'a key is set' : 'no key';
}

$('key-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const v = $('key').value.trim();
  if (v) sessionStorage.setItem(KEY, v);
  $('key').value = '';
  showKeyState();
});
$('forget').addEventListener('click', () => { sessionStorage.removeItem(KEY); showKeyState(); });

function resolveRef(doc, schema) {
  if (schema && schema.$ref) return doc.components.schemas[schema.$ref.split('/').pop()];
  return schema;
}

function example(doc, schema, depth) {
  schema = resolveRef(doc, schema) || {};
  if (depth > 4) return null;
  if (schema.example !== undefined) return schema.example;
  switch (schema.type) {
    case 'object': {
      const out = {};
      for (const [k, v] of Object.entries(schema.properties || {})) out[k] = example(doc, v, depth + 1);
      return out;
    }
    case 'array': return [example(doc, schema.items, depth + 1)];
    case 'integer': case 'number': return 0;
    case 'boolean': return false;
    default: return 'string';
  }
}

function operation(doc, path, method, op) {
  const box = el('details', null, 'op');
  const sum = el('summary');
  sum.append(el('span', method.toUpperCase(), 'm ' + method), ' ', el('code', path), ' — ' + (op.summary || ''));
  if (op['x-scope'] && op['x-scope'] !== 'none') sum.append(' ', el('span', 'scope: ' + op['x-scope'], 'tag'));
  box.append(sum);
  const body = el('div');
  box.append(body);
  if (op.description) body.append(el('p', op.description));

  const form = el('form', null, 'try');
  const inputs = [];
  for (const p of op.parameters || []) {
    const id = 'p-' + method + path + '-' + p.name;
    const label = el('label', p.name + ' (' + p.in + (p.required ? ', required' : '') + ')');
    label.htmlFor = id;
    const input = el('input');
    input.id = id;
    input.placeholder = p.description || '';
    input.required = !!p.required;
    inputs.push([p, input]);
    form.append(label, input);
  }
  let bodyInput = null;
  const rb = op.requestBody && op.requestBody.content && op.requestBody.content['application/json'];
  if (rb) {
    const label = el('label', 'Body (application/json)');
    bodyInput = el('textarea');
    bodyInput.value = JSON.stringify(example(doc, rb.schema, 0), null, 2);
    form.append(label, bodyInput);
  }
  const send = el('button', 'Send');
  send.type = 'submit';
  form.append(el('span'), send);
  body.append(form);

  const table = el('table');
  const head = el('tr');
  head.append(el('th', 'Status'), el('th', 'Meaning'));
  table.append(head);
  for (const [code, r] of Object.entries(op.responses || {})) {
    const tr = el('tr');
    tr.append(el('td', code), el('td', r.description || ''));
    table.append(tr);
  }
  body.append(table);
  const out = el('pre');
  out.hidden = true;
  body.append(out);

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    let url = path.replace(/^\//, '');
    const query = new URLSearchParams();
    const headers = {};
    for (const [p, input] of inputs) {
      if (!input.value) continue;
      if (p.in === 'path') url = url.replace('{' + p.name + '}', encodeURIComponent(input.value));
      else if (p.in === 'query') query.set(p.name, input.value);
      else if (p.in === 'header') headers[p.name] = input.value;
    }
    const key = sessionStorage.getItem(KEY);
    if (key) headers.Authorization = 'Bearer ' + key;
    if (bodyInput) headers['Content-Type'] = 'application/json';
    const target = new URL(url + (query.toString() ? '?' + query : ''), BASE);
    out.hidden = false;
    out.textContent = method.toUpperCase() + ' ' + target.pathname + target.search + ' …';
    const ctl = new AbortController();
    try {
      const r = await fetch(target, { method: method.toUpperCase(), headers, body: bodyInput ? bodyInput.value : undefined, cache: 'no-store', signal: ctl.signal });
      let text = '';
      if (r.headers.get('content-type') && r.headers.get('content-type').startsWith('text/event-stream')) {
        // A stream never ends: show what arrives in the first seconds.
        setTimeout(() => ctl.abort(), 3000);
        const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
        try {
          for (;;) { const { value, done } = await reader.read(); if (done) break; text += value; out.textContent = r.status + ' ' + r.statusText + '\n\n' + text; }
        } catch (e) { /* stopped after 3 s */ }
        text += '\n(stopped after 3 s)';
      } else {
        text = await r.text();
        try { text = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* not JSON */ }
      }
      out.textContent = r.status + ' ' + r.statusText + '\n\n' + text;
    } catch (e) {
      out.textContent = 'Request failed: ' + e.message;
    }
  });
  return box;
}

async function render() {
  const r = await fetch(new URL('openapi.json', BASE), { cache: 'no-store' });
  const doc = await r.json();
  document.title = doc.info.title + ' API ' + doc.info.version;
  $('title').textContent = doc.info.title + ' API ' + doc.info.version;
  $('description').textContent = doc.info.description || '';
  const ops = $('ops');
  ops.replaceChildren();
  for (const [path, item] of Object.entries(doc.paths)) {
    const section = el('section');
    section.id = path;
    section.append(el('h2', null));
    section.firstChild.append(el('code', path));
    for (const method of ['get', 'post', 'put', 'delete', 'head']) {
      if (item[method]) section.append(operation(doc, path, method, item[method]));
    }
    ops.append(section);
  }
}

showKeyState();
render().catch((e) => { $('ops').textContent = 'Could not load /openapi.json: ' + e.message; });
