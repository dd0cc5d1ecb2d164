// Entry point: sign-in state, the header, and the hash router.
//   #/                 overview: sessions and the start form
//   #/sessions/<id>    one session, live

import { refreshCookie } from './auth.js';
import { $ } from './dom.js';
import { startHealth } from './header.js';
import { initOverview, mountOverview } from './overview.js';
import { initSession, mountSession } from './session.js';

let unmount = null;
let firstRoute = true;

function route() {
  if (unmount) unmount();
  const match = /^#\/sessions\/([^/?#]+)/.exec(location.hash);
  let heading;
  if (match) {
    unmount = mountSession(decodeURIComponent(match[1]));
    heading = $('session-title');
  } else {
    unmount = mountOverview();
    heading = $('overview-title');
    document.title = 'Sessions · Loki Mode';
  }
  // Keyboard and screen reader users land on the new view's heading.
  if (!firstRoute) heading.focus({ preventScroll: false });
  firstRoute = false;
  window.scrollTo(0, 0);
}

async function boot() {
  initOverview();
  initSession();
  // A token this tab already holds is traded again for the stream cookie
  // before any EventSource opens; without one this does nothing.
  await refreshCookie();
  startHealth();
  window.addEventListener('hashchange', route);
  route();
  document.documentElement.dataset.ready = 'true';
}

boot().catch((err) => {
  const box = $('fatal');
  box.textContent = `The dashboard failed to start: ${err.message}`;
  box.hidden = false;
});
