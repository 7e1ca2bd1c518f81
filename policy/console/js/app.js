// app.js: the console's shell: the token, the navigation, the pages (one
// module each), routed by the location's hash.
import { call, forgetToken, setToken, token } from './api.js';
import { clear, el } from './dom.js';
import * as cas from './page_cas.js';
import * as certs from './page_certs.js';
import * as cert from './page_cert.js';
import * as settings from './page_settings.js';
import * as audit from './page_audit.js';
import * as proxies from './page_proxies.js';

const pages = { cas, certs, cert, settings, audit, proxies };
export const session = { role: '', name: '' };

const ROLES = ['read', 'operator', 'admin'];
// can(role) tells whether the token's role includes |role| (buttons the
// role cannot use are not shown; the API refuses them anyway).
export function can(role) {
  return ROLES.indexOf(session.role) >= ROLES.indexOf(role);
}

async function signIn() {
  const who = document.getElementById('who');
  try {
    const me = await call('GET', '/whoami');
    session.role = me.role;
    session.name = me.name;
    who.textContent = me.name + ' (' + me.role + ')';
    document.getElementById('login').hidden = true;
    document.getElementById('nav').hidden = false;
    document.getElementById('logout').hidden = false;
    return true;
  } catch (e) {
    forgetToken();
    who.textContent = '';
    document.getElementById('nav').hidden = true;
    document.getElementById('logout').hidden = true;
    document.getElementById('login').hidden = false;
    document.getElementById('login-error').textContent = e.status === 401 ? 'This token is not valid (unknown or revoked).' : e.message;
    return false;
  }
}

async function route() {
  const main = document.getElementById('main');
  if (!token()) {
    clear(main);
    document.getElementById('login').hidden = false;
    document.getElementById('nav').hidden = true;
    document.getElementById('token').focus();
    return;
  }
  if (!session.role && !(await signIn())) {
    clear(main);
    return;
  }
  const [, name, arg] = (location.hash || '#/certs').split('/');
  const page = pages[name] || certs;
  for (const a of document.querySelectorAll('#nav a')) {
    a.classList.toggle('active', a.dataset.page === name || (name === 'cert' && a.dataset.page === 'certs'));
  }
  clear(main);
  const root = el('div', { id: 'page-' + (pages[name] ? name : 'certs') });
  main.append(root);
  try {
    await page.render(root, arg ? decodeURIComponent(arg) : '');
  } catch (e) {
    root.append(el('p', { class: 'error' }, 'Error: ' + e.message));
  }
}

document.addEventListener('DOMContentLoaded', () => {
  document.getElementById('login-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const t = document.getElementById('token').value.trim();
    if (!t) return;
    setToken(t);
    document.getElementById('token').value = '';
    session.role = '';
    if (await signIn()) {
      if (!location.hash) location.hash = '#/certs';
      route();
    }
  });
  document.getElementById('logout').addEventListener('click', () => {
    forgetToken();
    session.role = '';
    location.hash = '';
    route();
  });
  window.addEventListener('hashchange', route);
  route();
});
