// page_cas.js: CA certificates: the list, registration by file upload,
// activate / deactivate / delete (each confirmed, saying what it does).
import { call } from './api.js';
import { can } from './app.js';
import { actionButton, el, readFiles, statusBadge, time, toast, validity } from './dom.js';

export async function render(root) {
  root.append(el('h1', {}, 'CA certificates'));
  if (can('operator')) root.append(uploadForm(root));
  const list = el('div', { id: 'ca-list' });
  root.append(list);
  await refresh(list);
}

function uploadForm(root) {
  const file = el('input', { id: 'ca-upload', type: 'file', accept: '.pem,.crt,.cer' });
  const active = el('input', { id: 'ca-active', type: 'checkbox', checked: true });
  const button = el('button', { id: 'ca-register', type: 'button', class: 'primary' }, 'Register CA');
  button.addEventListener('click', async () => {
    if (!file.files.length) { toast('Choose a CA certificate file (PEM) first.', true); return; }
    try {
      const [pem] = await readFiles(file);
      const r = await call('POST', '/cas', { pem, active: active.checked });
      toast('Registered CA ' + r.cn + ' (' + r.status + ')');
      file.value = '';
      await refresh(root.querySelector('#ca-list'));
    } catch (e) {
      toast('Not registered: ' + e.message, true);
    }
  });
  return el('div', { class: 'card' },
    el('h2', {}, 'Register a CA certificate'),
    el('p', { class: 'muted' }, 'A root or intermediate CA (PEM, basicConstraints CA:TRUE). Device certificates it issued can then be registered, or register themselves in automatic mode.'),
    el('div', { class: 'row' }, file, el('label', {}, active, ' active'), button));
}

async function refresh(list) {
  const data = await call('GET', '/cas');
  const rows = data.cas.map((c) => el('tr', { 'data-id': c.id },
    el('td', {}, c.cn), el('td', { class: 'mono' }, c.id.slice(0, 16)),
    el('td', { class: 'mono' }, c.serial), el('td', {}, statusBadge(c.status)),
    el('td', {}, validity(c.not_after)), el('td', {}, String(c.certs) + ' (' + c.active_certs + ' active)'),
    el('td', {}, time(c.registered_at)), el('td', { class: 'actions' }, actions(c, list))));
  list.replaceChildren(el('table', { id: 'ca-table' },
    el('thead', {}, el('tr', {}, ['CN', 'ID', 'Serial', 'Status', 'Not after', 'Certificates', 'Registered', ''].map((h) => el('th', {}, h)))),
    el('tbody', {}, rows)),
    el('p', { class: 'muted' }, data.total + ' CA' + (data.total === 1 ? '' : 's')));
}

function actions(c, list) {
  const out = [];
  const act = (label, cls, title, text, warning, fn) =>
    out.push(actionButton(label, cls, title, text, warning, fn, () => refresh(list)));
  const name = '"' + c.cn + '"';
  if (can('operator') && c.status === 'inactive') {
    act('Activate', 'activate', 'Activate CA ' + name,
      'Active client certificates issued by this CA may connect again from now on.', '',
      () => call('POST', '/cas/' + c.id + '/activate'));
  }
  if (can('operator') && c.status === 'active') {
    act('Deactivate', 'deactivate', 'Deactivate CA ' + name,
      'No certificate issued by this CA may connect while it is inactive. The certificates keep their own state.',
      'Every live device connection using a certificate of this CA is cut at once, on every proxy.',
      () => call('POST', '/cas/' + c.id + '/deactivate'));
  }
  if (can('admin')) {
    act('Delete', 'delete', 'Delete CA ' + name,
      'The CA leaves the registry. This is refused while it has ACTIVE client certificates: deactivate, revoke or delete them first.',
      'Devices whose chain reaches only this CA are refused from now on.',
      () => call('DELETE', '/cas/' + c.id));
  }
  return out;
}
