// page_proxies.js: the cluster's proxies, from their heartbeats (each
// mqgate writes one every 10 s; one older than 30 s is gone).
import { call } from './api.js';
import { el, time, timeMs } from './dom.js';

export async function render(root) {
  const body = el('tbody', {});
  const note = el('p', { class: 'muted', id: 'proxies-note' });
  const load = async () => {
    const data = await call('GET', '/proxies');
    body.replaceChildren(...data.proxies.map((p) => el('tr', {},
      el('td', { class: 'mono' }, p.id), el('td', {}, p.host || ''), el('td', {}, p.version || ''),
      el('td', {}, p.boringssl || ''), el('td', {}, p.started_at ? time(p.started_at) : ''),
      el('td', {}, String(p.connections_open ?? '')), el('td', {}, String(p.handshakes_1m ?? '')),
      el('td', {}, Object.entries(p.refusals_1m || {}).map(([k, v]) => k + ': ' + v).join(', ') || '-'),
      el('td', {}, timeMs(p.last_seen_ms)))));
    note.textContent = data.proxies.length + ' prox' + (data.proxies.length === 1 ? 'y' : 'ies') + ' seen in the last 30 s (as of ' + timeMs(data.now_ms) + ')';
  };
  const refresh = el('button', { id: 'proxies-refresh', type: 'button' }, 'Refresh');
  refresh.addEventListener('click', load);
  root.append(el('h1', {}, 'Proxies of the cluster'), note,
    el('table', { id: 'proxies-table' },
      el('thead', {}, el('tr', {}, ['ID', 'Host', 'Version', 'BoringSSL', 'Started', 'Connections', 'Handshakes / min', 'Refusals / min', 'Last heartbeat'].map((h) => el('th', {}, h)))),
      body), refresh);
  await load();
}
