// page_settings.js: the cluster settings: registration mode, the TLS
// window (a min..max range or a single version), client-ID mode.
import { call } from './api.js';
import { can } from './app.js';
import { el, toast } from './dom.js';

const VERSIONS = ['1.0', '1.1', '1.2', '1.3'];

export async function render(root) {
  const s = await call('GET', '/settings');
  const options = (sel) => VERSIONS.map((v) => el('option', { value: v, selected: v === sel }, 'TLS ' + v));
  const registration = el('select', { id: 'set-registration' },
    el('option', { value: 'manual', selected: s.registration === 'manual' }, 'manual: only registered certificates connect'),
    el('option', { value: 'auto', selected: s.registration === 'auto' }, 'automatic: a certificate of an active CA registers itself on first connect'));
  const single = s.tls_min === s.tls_max;
  const modeRange = el('input', { type: 'radio', name: 'tls-mode', id: 'tls-range', checked: !single });
  const modeSingle = el('input', { type: 'radio', name: 'tls-mode', id: 'tls-single', checked: single });
  const min = el('select', { id: 'set-tls-min' }, options(s.tls_min));
  const max = el('select', { id: 'set-tls-max' }, options(s.tls_max));
  const one = el('select', { id: 'set-tls-one' }, options(s.tls_min));
  const rangeRow = el('div', { class: 'row', id: 'tls-range-row' }, el('label', {}, 'from'), min, el('label', {}, 'to'), max);
  const singleRow = el('div', { class: 'row', id: 'tls-single-row' }, el('label', {}, 'only'), one);
  const sync = () => { rangeRow.hidden = !modeRange.checked; singleRow.hidden = !modeSingle.checked; };
  modeRange.addEventListener('change', sync);
  modeSingle.addEventListener('change', sync);
  sync();
  const clientId = el('select', { id: 'set-client-id-mode' },
    el('option', { value: 'default', selected: s.client_id_mode === 'default' }, 'default: keep the client ID a device sends'),
    el('option', { value: 'strict', selected: s.client_id_mode === 'strict' }, 'strict: refuse a client ID other than the registered one (or the CN)'));
  const save = el('button', { id: 'settings-save', type: 'button', class: 'primary', disabled: !can('admin') }, 'Save');
  save.addEventListener('click', async () => {
    const patch = { registration: registration.value, client_id_mode: clientId.value };
    if (modeSingle.checked) {
      patch.tls_min = one.value; patch.tls_max = one.value;
    } else {
      if (VERSIONS.indexOf(min.value) > VERSIONS.indexOf(max.value)) { toast('The lowest version must not be above the highest.', true); return; }
      patch.tls_min = min.value; patch.tls_max = max.value;
    }
    try {
      await call('PATCH', '/settings', patch);
      toast('Settings saved: every proxy applies them to new connections at once');
    } catch (e) {
      toast('Not saved: ' + e.message, true);
    }
  });
  root.append(el('h1', {}, 'Settings'),
    el('div', { class: 'card' },
      el('h2', {}, 'Registration mode'), el('div', { class: 'row' }, registration),
      el('h2', {}, 'TLS versions accepted'),
      el('div', { class: 'row' }, el('label', {}, modeRange, ' a range'), el('label', {}, modeSingle, ' one version')),
      rangeRow, singleRow,
      el('p', { class: 'muted' }, 'Applies to new handshakes at once; live sessions keep their version.'),
      el('h2', {}, 'Client ID mode'), el('div', { class: 'row' }, clientId),
      el('div', { class: 'row' }, save, can('admin') ? '' : el('span', { class: 'muted' }, 'Only an admin token can change settings.'))));
}
