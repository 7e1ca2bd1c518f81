// dom.js: building the page without HTML strings. Every text, and above
// all every device-chosen string (CN, OU, client ID), goes in through
// textContent or an attribute, never innerHTML: it can only ever be text.

// el(tag, attrs, ...children): attrs set as attributes ("class", "id",
// data-*, ...); children are nodes or strings (text nodes).
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

// time formats Unix seconds as "2026-05-11 15:57 UTC" ("-" for 0).
export function time(s) {
  if (!s) return '-';
  return new Date(s * 1000).toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
}

export function timeMs(ms) {
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 19) + ' UTC';
}

export function statusBadge(status) {
  return el('span', { class: 'status ' + status }, status.toUpperCase());
}

// validity shows a not_after with a mark when it is past or within 30 days.
export function validity(notAfter) {
  const now = Date.now() / 1000;
  const cls = notAfter < now ? 'expired' : notAfter < now + 30 * 86400 ? 'expiring' : '';
  const mark = notAfter < now ? ' (expired)' : cls ? ' (expires soon)' : '';
  return el('span', { class: cls }, time(notAfter) + mark);
}

let toastTimer;
export function toast(message, bad = false) {
  const t = document.getElementById('toast');
  t.textContent = message;
  t.className = 'toast' + (bad ? ' bad' : '');
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, 6000);
}

// confirm shows the confirmation dialog; resolves true on Confirm.
export function confirmAction(title, text, warning, okLabel) {
  const d = document.getElementById('confirm');
  document.getElementById('confirm-title').textContent = title;
  document.getElementById('confirm-text').textContent = text;
  document.getElementById('confirm-warning').textContent = warning || '';
  document.getElementById('confirm-ok').textContent = okLabel || 'Confirm';
  return new Promise((resolve) => {
    d.addEventListener('close', () => resolve(d.returnValue === 'ok'), { once: true });
    d.returnValue = 'cancel';
    d.showModal();
  });
}

// actionButton makes a button (class "act-<cls>") that asks first (title,
// text, warning; the button's label confirms), then runs |fn|, says how it
// went in a toast, and on success runs |after| (a refresh).
export function actionButton(label, cls, title, text, warning, fn, after) {
  const b = el('button', { type: 'button', class: 'act-' + cls }, label);
  b.addEventListener('click', async () => {
    if (!(await confirmAction(title, text, warning, label))) return;
    try {
      await fn();
      toast(title + ': done');
      await after();
    } catch (e) {
      toast(e.message, true);
    }
  });
  return b;
}

// readFiles reads the files of an <input type=file> as text.
export function readFiles(input) {
  return Promise.all([...input.files].map((f) => f.text()));
}
