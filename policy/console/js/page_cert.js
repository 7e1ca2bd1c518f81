// page_cert.js: one certificate: basic information, associated clients
// (the client IDs that connected with it) and its actions. (The registry
// keeps a client certificate's facts, not its PEM.)
import { call } from './api.js';
import { el, statusBadge, time, validity } from './dom.js';
import { certActions } from './page_certs.js';

export async function render(root, fp) {
  const data = await call('GET', '/certificates/' + encodeURIComponent(fp));
  const c = data.certificate;
  const field = (k, v) => [el('dt', {}, k), el('dd', {}, v)];
  root.append(
    el('p', {}, el('a', { href: '#/certs' }, '< Client certificates')),
    el('h1', { id: 'cert-title' }, 'Certificate ', el('span', { class: 'mono' }, c.fp.slice(0, 16))),
    el('div', { class: 'card' },
      el('h2', {}, 'Basic information'),
      el('dl', { class: 'fields', id: 'cert-details' },
        field('Common name (CN)', c.cn), field('Organizational unit (OU)', c.ou),
        field('Status', statusBadge(c.status)), field('Serial number', el('span', { class: 'mono' }, c.serial)),
        field('Fingerprint (SHA-256)', el('span', { class: 'mono' }, c.fp)),
        field('Issuing CA', el('span', { class: 'mono' }, c.ca)),
        field('Not before', time(c.not_before)), field('Not after', validity(c.not_after)),
        field('Registered client ID', c.client_id || '-'), field('Source', c.source),
        field('Renews', c.renews ? el('a', { href: '#/cert/' + c.renews, class: 'mono' }, c.renews.slice(0, 16)) : '-'),
        field('Registered at', time(c.registered_at)), field('Status changed at', time(c.status_changed_at))),
      el('div', { class: 'row', id: 'cert-actions' }, certActions(c, async () => {
        root.replaceChildren();
        await render(root, fp);
      }))),
    el('div', { class: 'card' },
      el('h2', {}, 'Associated clients (' + data.clients.length + ')'),
      data.clients.length
        ? el('table', { id: 'clients-table' },
          el('thead', {}, el('tr', {}, el('th', {}, 'Client ID'), el('th', {}, 'Last connected'))),
          el('tbody', {}, data.clients.map((x) => el('tr', {}, el('td', {}, x.client_id), el('td', {}, time(x.last_seen))))))
        : el('p', { class: 'muted' }, 'No device has connected with this certificate yet.')));
}
