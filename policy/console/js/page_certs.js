// page_certs.js: client certificates: registration by upload (CA, client
// ID, activate switch), search over serial, OU, CN, status and validity
// (with "expired or expiring within 30 days"), paging, and the state
// changes, each confirmed with what happens to live connections.
import { call, query } from './api.js';
import { can } from './app.js';
import { actionButton, el, readFiles, statusBadge, toast, validity } from './dom.js';

const PAGE = 20;
const state = { filters: {}, cursors: [''], page: 0 };

export async function render(root) {
  root.append(el('h1', {}, 'Client certificates'));
  if (can('operator')) root.append(await uploadForm(root));
  root.append(searchForm(root));
  root.append(el('div', { id: 'cert-list' }));
  await refresh(root);
}

async function uploadForm(root) {
  const cas = (await call('GET', '/cas')).cas;
  const file = el('input', { id: 'cert-upload', type: 'file', multiple: true, accept: '.pem,.crt,.cer' });
  const ca = el('select', { id: 'cert-ca' }, cas.map((c) => el('option', { value: c.id }, c.cn + ' (' + c.id.slice(0, 12) + ', ' + c.status + ')')));
  const clientId = el('input', { id: 'cert-client-id', type: 'text', placeholder: 'optional, one certificate only', size: 28 });
  const active = el('input', { id: 'cert-active', type: 'checkbox', checked: true });
  const button = el('button', { id: 'cert-register', type: 'button', class: 'primary' }, 'Register');
  const result = el('div', { id: 'cert-register-result' });
  button.addEventListener('click', async () => {
    if (!file.files.length) { toast('Choose certificate files (PEM) first.', true); return; }
    if (!ca.value) { toast('Register the issuing CA first (CA certificates page).', true); return; }
    const pem = (await readFiles(file)).join('\n');
    let r;
    try {
      r = await call('POST', '/certificates', { pem, ca: ca.value, client_id: clientId.value.trim(), active: active.checked });
    } catch (e) {
      if (!e.body || !e.body.results) { toast('Not registered: ' + e.message, true); return; }
      r = e.body;
    }
    result.replaceChildren(el('ul', {}, r.results.map((x) => el('li', { class: x.ok ? '' : 'error' },
      (x.cn || '?') + ': ' + (x.ok ? 'registered, ' + x.status : x.message)))));
    toast(r.registered + ' registered, ' + r.failed + ' refused', r.failed > 0);
    file.value = '';
    await refresh(root);
  });
  return el('div', { class: 'card' },
    el('h2', {}, 'Register client certificates'),
    el('div', { class: 'row' }, el('label', {}, 'Files'), file),
    el('div', { class: 'row' }, el('label', {}, 'Issuing CA'), ca,
      el('label', {}, 'Client ID'), clientId, el('label', {}, active, ' activate'), button),
    el('p', { class: 'muted' }, 'At most 15 registrations per second per cluster (automatic ones included).'),
    result);
}

function searchForm(root) {
  const field = el('select', { id: 'search-field' },
    el('option', { value: 'cn' }, 'CN'), el('option', { value: 'ou' }, 'OU'), el('option', { value: 'serial' }, 'Serial number'));
  const text = el('input', { id: 'search-text', type: 'search', placeholder: 'exact value', size: 30 });
  const status = el('select', { id: 'search-status' }, el('option', { value: '' }, 'any status'),
    ['active', 'inactive', 'registered_inactive', 'revoked'].map((s) => el('option', { value: s }, s)));
  const validitySel = el('select', { id: 'search-validity' },
    el('option', { value: '' }, 'any validity'),
    el('option', { value: 'expiring' }, 'expired or expiring within 30 days'),
    el('option', { value: 'expired' }, 'expired'),
    el('option', { value: 'valid' }, 'not expired'));
  const go = el('button', { id: 'search', type: 'submit', class: 'primary' }, 'Search');
  const reset = el('button', { id: 'search-reset', type: 'button' }, 'Clear');
  const form = el('form', { class: 'card row', id: 'search-form' },
    el('label', {}, 'Search'), field, text, status, validitySel, go, reset);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const f = {};
    if (text.value.trim()) f[field.value] = text.value.trim();
    if (status.value) f.status = status.value;
    if (validitySel.value === 'expiring') f.expiring_within_days = 30;
    if (validitySel.value === 'expired') f.expired = 'true';
    if (validitySel.value === 'valid') f.expired = 'false';
    state.filters = f;
    state.cursors = [''];
    state.page = 0;
    refresh(root);
  });
  reset.addEventListener('click', () => {
    text.value = ''; status.value = ''; validitySel.value = '';
    state.filters = {}; state.cursors = ['']; state.page = 0;
    refresh(root);
  });
  return form;
}

export async function refresh(root) {
  const list = root.querySelector('#cert-list');
  const cursor = state.cursors[state.page];
  const data = await call('GET', '/certificates' + query({ ...state.filters, cursor, limit: PAGE }));
  const rows = data.certificates.map((c) => el('tr', { 'data-fp': c.fp, class: 'cert-row' },
    el('td', {}, el('a', { href: '#/cert/' + c.fp, class: 'cert-link' }, c.cn || '(no CN)')),
    el('td', {}, c.ou), el('td', { class: 'mono' }, c.serial), el('td', {}, statusBadge(c.status)),
    el('td', {}, validity(c.not_after)), el('td', {}, c.client_id), el('td', {}, c.source),
    el('td', { class: 'mono fp' }, c.fp.slice(0, 16)),
    el('td', { class: 'actions' }, certActions(c, () => refresh(root)))));
  const prev = el('button', { id: 'page-prev', type: 'button', disabled: state.page === 0 }, 'Previous');
  const next = el('button', { id: 'page-next', type: 'button', disabled: !data.next_cursor }, 'Next');
  prev.addEventListener('click', () => { state.page--; refresh(root); });
  next.addEventListener('click', () => {
    state.cursors[state.page + 1] = data.next_cursor;
    state.page++;
    refresh(root);
  });
  list.replaceChildren(
    el('table', { id: 'cert-table' },
      el('thead', {}, el('tr', {}, ['CN', 'OU', 'Serial', 'Status', 'Not after', 'Client ID', 'Source', 'Fingerprint', ''].map((h) => el('th', {}, h)))),
      el('tbody', {}, rows)),
    el('div', { class: 'pager' }, prev,
      el('span', { id: 'page-info', class: 'muted' }, 'page ' + (state.page + 1) + (data.total >= 0 ? ', ' + data.total + ' matching' : '')), next));
}

// certActions returns the buttons of the state changes |c| allows; each
// asks first, saying what happens to live connections.
export function certActions(c, done) {
  const out = [];
  const name = '"' + (c.cn || c.fp.slice(0, 16)) + '"';
  const act = (label, cls, title, text, warning, fn) =>
    out.push(actionButton(label, cls, title, text, warning, fn, done));
  const path = '/certificates/' + c.fp;
  if (can('operator') && (c.status === 'inactive' || c.status === 'registered_inactive')) {
    act('Activate', 'activate', 'Activate ' + name, 'The device may connect with this certificate from now on.', '',
      () => call('POST', path + '/activate'));
  }
  if (can('operator') && c.status === 'active') {
    act('Deactivate', 'deactivate', 'Deactivate ' + name,
      'The device can no longer connect with this certificate until it is activated again.',
      'A live connection using this certificate is cut at once, on every proxy.',
      () => call('POST', path + '/deactivate'));
  }
  if (can('operator') && c.status !== 'revoked') {
    act('Revoke', 'revoke', 'Revoke ' + name,
      'Revocation is final: this certificate can never be active again, and it will not register itself again.',
      'A live connection using this certificate is cut at once, on every proxy. This cannot be undone.',
      () => call('POST', path + '/revoke'));
  }
  if (can('admin') && c.status !== 'active') {
    act('Delete', 'delete', 'Delete ' + name,
      'The certificate leaves the listings and its client ID is freed. Its fingerprint keeps a tombstone: it never registers itself again' + (c.status === 'revoked' ? ', and as it was revoked it stays refused for good.' : '; only an operator can register it again.'),
      'It has no live connection (only non-active certificates can be deleted).',
      () => call('DELETE', path));
  }
  return out;
}
