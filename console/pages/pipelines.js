// Pipelines: pause and resume (resuming releases the jobs held), priority.
import { api } from '../api.js';
import { errorBox, h } from '../ui.js';

export function pipelinesPage() {
  const body = h('tbody');
  const message = h('div');
  const el = h(
    'section',
    { class: 'pipelines' },
    h('h1', {}, 'Pipelines'),
    h('p', { class: 'muted' }, 'Jobs submitted to a paused pipeline wait in queued; priority 1 runs first.'),
    message,
    h('table', { class: 'list' }, h('thead', {}, h('tr', {}, h('th', {}, 'Pipeline'), h('th', {}, 'State'), h('th', {}, 'Priority'), h('th', {}, 'Callback'), h('th', {}, ''))), body),
  );

  async function patch(id, change) {
    message.replaceChildren();
    try {
      const p = await api(`/v1/pipelines/${encodeURIComponent(id)}`, { method: 'PATCH', body: change });
      message.replaceChildren(h('p', { class: 'ok' }, `${id}: ${p.state}, priority ${p.priority}${p.released ? `; ${p.released} queued jobs released` : ''}.`));
      load();
    } catch (err) {
      message.replaceChildren(errorBox(err));
    }
  }

  async function load() {
    try {
      const { pipelines } = await api('/v1/pipelines');
      body.replaceChildren(
        ...pipelines.map((p) => {
          const priority = h('input', { type: 'number', min: 1, max: 10, value: String(p.priority), name: 'priority' });
          return h(
            'tr',
            { dataset: { pipeline: p.id } },
            h('td', {}, h('code', {}, p.id)),
            h('td', {}, h('span', { class: `badge ${p.state}` }, p.state)),
            h('td', {}, priority, h('button', { onclick: () => patch(p.id, { priority: Number(priority.value) }) }, 'Set')),
            h('td', {}, p.notify?.url ?? h('span', { class: 'muted' }, 'none')),
            h('td', {}, h('button', { onclick: () => patch(p.id, { state: p.state === 'paused' ? 'active' : 'paused' }) }, p.state === 'paused' ? 'Resume' : 'Pause')),
          );
        }),
      );
    } catch (err) {
      message.replaceChildren(errorBox(err));
    }
  }

  load();
  return { el };
}
