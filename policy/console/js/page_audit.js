// page_audit.js: the audit log, newest first, filterable by object.
import { call, query } from './api.js';
import { el, timeMs } from './dom.js';

export async function render(root) {
  const object = el('input', { id: 'audit-object', type: 'search', size: 50, placeholder: 'cert:<fingerprint>, ca:<id>, settings:<key>, token:<name>' });
  const go = el('button', { id: 'audit-filter', type: 'submit', class: 'primary' }, 'Filter');
  const form = el('form', { class: 'card row' }, el('label', {}, 'Object'), object, go);
  const body = el('tbody', {});
  const more = el('button', { id: 'audit-more', type: 'button', hidden: true }, 'Older entries');
  let cursor = '';
  const load = async (reset) => {
    if (reset) { body.replaceChildren(); cursor = ''; }
    const data = await call('GET', '/audit' + query({ object: object.value.trim(), cursor, limit: 50 }));
    for (const e of data.entries) {
      body.append(el('tr', {}, el('td', {}, timeMs(e.time_ms)), el('td', {}, e.actor), el('td', {}, e.action),
        el('td', { class: 'mono' }, e.object), el('td', {}, e.before), el('td', {}, e.after), el('td', {}, e.detail)));
    }
    cursor = data.next_cursor;
    more.hidden = !cursor;
  };
  form.addEventListener('submit', (ev) => { ev.preventDefault(); load(true); });
  more.addEventListener('click', () => load(false));
  root.append(el('h1', {}, 'Audit log'), form,
    el('table', { id: 'audit-table' },
      el('thead', {}, el('tr', {}, ['Time', 'Actor', 'Action', 'Object', 'Before', 'After', 'Detail'].map((h) => el('th', {}, h)))),
      body), more);
  await load(true);
}
