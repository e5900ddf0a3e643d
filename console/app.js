// The console: a hash router over five pages, and the API key bar.
import { apiKey, onUnauthorized, setApiKey } from './api.js';
import { h } from './ui.js';
import { jobsPage } from './pages/jobs.js';
import { jobPage } from './pages/job.js';
import { submitPage } from './pages/submit.js';
import { templatesPage } from './pages/templates.js';
import { pipelinesPage } from './pages/pipelines.js';

const routes = [
  [/^#\/jobs\/(job_[a-z0-9]+)$/, (m) => jobPage(m[1]), 'jobs'],
  [/^#\/submit$/, () => submitPage(), 'submit'],
  [/^#\/templates$/, () => templatesPage(), 'templates'],
  [/^#\/pipelines$/, () => pipelinesPage(), 'pipelines'],
  [/^#\/jobs(\?.*)?$/, () => jobsPage(), 'jobs'],
];

/** The page shown now; its stop() closes its streams and timers. */
let current = null;

function render() {
  const hash = location.hash || '#/jobs';
  const [re, page, nav] = routes.find(([r]) => r.test(hash)) ?? routes.at(-1);
  current?.stop?.();
  const main = document.getElementById('main');
  main.replaceChildren();
  for (const a of document.querySelectorAll('[data-nav]')) a.classList.toggle('active', a.dataset.nav === nav);
  current = page(hash.match(re) ?? []);
  main.append(current.el);
}

/** The key bar: which key this browser session uses, or the open mode; a form when a key is needed. */
function authBar(asking = false) {
  const bar = document.getElementById('auth');
  const form = h(
    'form',
    {
      class: 'key-form',
      onsubmit: (e) => {
        e.preventDefault();
        setApiKey(form.elements.key.value.trim());
        authBar();
        render();
      },
    },
    h('input', { name: 'key', id: 'api-key', type: 'password', placeholder: 'API key (mfk_…)', autocomplete: 'off', required: true }),
    h('button', { type: 'submit' }, 'Use key'),
  );
  if (apiKey() && !asking) {
    bar.replaceChildren(h('span', { class: 'muted' }, 'key set for this session '), h('button', { class: 'link', onclick: () => (setApiKey(null), authBar(true)) }, 'forget'));
  } else if (asking) {
    bar.replaceChildren(h('span', { class: 'warn' }, 'This API needs a key: '), form);
  } else {
    bar.replaceChildren(h('span', { class: 'muted' }, 'no key (open mode) '), h('button', { class: 'link', onclick: () => authBar(true) }, 'enter a key'));
  }
}

onUnauthorized(() => authBar(true));
addEventListener('hashchange', render);
authBar();
render();
