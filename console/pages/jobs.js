// Jobs: the tenant's jobs, newest first, with filters, pages and a live progress bar per job.
import { api, followJob } from '../api.js';
import { badge, errorBox, FINAL, h, progressBar, when } from '../ui.js';

const STATUSES = ['queued', 'probing', 'processing', 'succeeded', 'failed', 'canceled'];
/** Browsers open at most 6 connections to one origin over HTTP/1.1: a few event streams, the rest polled. */
const MAX_STREAMS = 3;
const POLL_MS = 2000;

export function jobsPage() {
  const stops = new Set();
  const state = { status: '', pipeline: '', tokens: [null], page: 0 };
  const status = h('select', { name: 'status', onchange: () => reset() }, h('option', { value: '' }, 'any status'), STATUSES.map((s) => h('option', { value: s }, s)));
  const pipeline = h('select', { name: 'pipeline', onchange: () => reset() }, h('option', { value: '' }, 'any pipeline'));
  const prev = h('button', { onclick: () => go(state.page - 1) }, '‹ Newer');
  const next = h('button', { onclick: () => go(state.page + 1) }, 'Older ›');
  const body = h('tbody');
  const message = h('div');
  const el = h(
    'section',
    { class: 'jobs' },
    h('h1', {}, 'Jobs'),
    h('div', { class: 'filters' }, h('label', {}, 'Status ', status), h('label', {}, 'Pipeline ', pipeline), h('a', { class: 'button', href: '#/submit' }, 'Submit a job')),
    message,
    h('table', { class: 'list' }, h('thead', {}, h('tr', {}, h('th', {}, 'Job'), h('th', {}, 'Status'), h('th', {}, 'Progress'), h('th', {}, 'Pipeline'), h('th', {}, 'Created'), h('th', {}, 'Finished'))), body),
    h('div', { class: 'pager' }, prev, h('span', { class: 'page-no' }), next),
  );

  api('/v1/pipelines')
    .then(({ pipelines }) => pipeline.append(...pipelines.map((p) => h('option', { value: p.id }, p.id))))
    .catch(() => {});

  function stopAll() {
    for (const s of stops) s();
    stops.clear();
  }

  function reset() {
    state.status = status.value;
    state.pipeline = pipeline.value;
    state.tokens = [null];
    go(0);
  }

  /** Keeps a row's progress and status live: an event stream for the first few, polling for the rest. */
  function live(row, job, streams) {
    const update = (j) => {
      row.bar.update(j.progress);
      row.status.replaceChildren(badge(j.status));
      if (j.finishedAt) row.finished.textContent = when(j.finishedAt);
    };
    if (streams.n < MAX_STREAMS) {
      streams.n++;
      stops.add(followJob(job.id, update));
      return;
    }
    const timer = setInterval(async () => {
      try {
        const j = await api(`/v1/jobs/${job.id}`);
        update(j);
        if (FINAL.includes(j.status)) clearInterval(timer);
      } catch {
        clearInterval(timer);
      }
    }, POLL_MS);
    stops.add(() => clearInterval(timer));
  }

  async function go(page) {
    stopAll();
    const q = new URLSearchParams({ pageSize: '20' });
    if (state.status) q.set('status', state.status);
    if (state.pipeline) q.set('pipeline', state.pipeline);
    if (state.tokens[page]) q.set('pageToken', state.tokens[page]);
    message.replaceChildren();
    let list;
    try {
      list = await api(`/v1/jobs?${q}`);
    } catch (err) {
      message.replaceChildren(errorBox(err));
      return;
    }
    state.page = page;
    state.tokens[page + 1] = list.nextPageToken ?? null;
    prev.disabled = page === 0;
    next.disabled = !list.nextPageToken;
    el.querySelector('.page-no').textContent = `page ${page + 1}`;
    const streams = { n: 0 };
    body.replaceChildren(
      ...list.jobs.map((job) => {
        const row = { bar: progressBar(FINAL.includes(job.status) && job.status === 'succeeded' ? 1 : 0, `progress of ${job.id}`), status: h('td', {}, badge(job.status)), finished: h('td', {}, when(job.finishedAt)) };
        if (!FINAL.includes(job.status)) live(row, job, streams);
        else if (job.status !== 'succeeded') api(`/v1/jobs/${job.id}`).then((j) => row.bar.update(j.progress), () => {});
        return h('tr', { dataset: { job: job.id } }, h('td', {}, h('a', { href: `#/jobs/${job.id}` }, job.id)), row.status, h('td', {}, row.bar), h('td', {}, job.pipeline), h('td', {}, when(job.createdAt)), row.finished);
      }),
    );
    if (!list.jobs.length) body.append(h('tr', {}, h('td', { colspan: 6, class: 'muted' }, 'No jobs here yet.')));
  }

  go(0);
  return { el, stop: stopAll };
}
