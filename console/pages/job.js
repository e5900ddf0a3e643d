// A job: progress per task and a timeline, the input, snapshots, a player per output, cancel and retry.
import { api, followJob, signedUrl } from '../api.js';
import { player } from '../player.js';
import { badge, bytes, duration, errorBox, FINAL, h, progressBar, when } from '../ui.js';

/** What an error code means, for people (the API's message follows it). */
const PLAIN = {
  InputEmpty: 'The input file is empty.',
  InputUnreadable: 'The input is not a media file that can be read (corrupt or not audio/video).',
  UnsupportedInput: 'This kind of input is not accepted (for example a playlist).',
  InputTooLarge: 'The input is over a configured limit (size, duration or resolution).',
  InputMissing: 'The input object does not exist (any more).',
  InputFetchRefused: 'The input URL refused the download.',
  InputFetchFailed: 'The input could not be downloaded; a retry may work.',
  SourceTooSlow: 'The input URL sent data too slowly.',
  StorageUnavailable: 'The object store could not be reached; a retry may work.',
  OutputNotPossible: 'This output cannot be made from this input (for example video from an audio-only file).',
  UnsupportedOutput: 'This output is not supported by this version.',
  WatermarkInvalid: 'The watermark is not usable for this output.',
  OutputTooLarge: 'The output grew past the configured maximum size.',
  EncoderMissing: "The worker's ffmpeg lacks the encoder this output needs.",
  EncodeFailed: 'ffmpeg failed while encoding; a retry may work.',
  EncodeStalled: 'ffmpeg stopped making progress and was stopped.',
  EncodeTimeout: 'ffmpeg ran past its time limit.',
  DependencyFailed: 'A task this one needs did not succeed.',
  NotifyFailed: 'The completion callback was not accepted by its receiver.',
  UrlNotAllowed: 'A URL points at a private address, which is not allowed.',
  TaskTimeout: 'The task took too long and was timed out.',
  Canceled: 'The job was canceled.',
};

function plainError(error) {
  if (!error) return null;
  return h('div', { class: 'error job-error', role: 'alert' }, h('strong', {}, PLAIN[error.code] ?? 'The job failed.'), ' ', h('span', { class: 'muted' }, `(${error.code}) ${error.message}`));
}

const imageKey = (k) => /\.(jpe?g|png|webp)$/i.test(k);
const audioOnly = (o) => !o.video && !o.renditions;

/** The job's folder in the store: every output and snapshot key starts with it. */
function jobFolder(job) {
  const key = [...job.outputs.map((o) => o.key), ...job.snapshots.flatMap((s) => s.keys)][0];
  if (!key) return null;
  const at = key.indexOf(`${job.id}/`);
  return at < 0 ? null : key.slice(0, at + job.id.length + 1);
}

export function jobPage(id) {
  let stop = () => {};
  let timer = null;
  const title = h('h1', {}, 'Job ', h('code', {}, id));
  const status = h('span');
  const overall = progressBar(0, 'job progress');
  overall.classList.add('job-progress');
  const actions = h('div', { class: 'actions' });
  const message = h('div');
  const errorSlot = h('div');
  const inputInfo = h('div', { class: 'card' });
  const tasksBody = h('tbody');
  const snapshotsEl = h('div', { class: 'snapshots' });
  const outputsEl = h('div', { class: 'outputs' });
  const temporalLink = h('a', { target: '_blank', rel: 'noopener', class: 'temporal-link' }, 'Open in the Temporal UI');
  const el = h(
    'section',
    { class: 'job', dataset: { job: id } },
    title,
    h('div', { class: 'summary' }, status, overall, temporalLink),
    actions,
    message,
    errorSlot,
    h('h2', {}, 'Input'),
    inputInfo,
    h('h2', {}, 'Tasks'),
    h('table', { class: 'list tasks' }, h('thead', {}, h('tr', {}, h('th', {}, 'Task'), h('th', {}, 'Status'), h('th', {}, 'Progress'), h('th', {}, 'Attempts'), h('th', { class: 'timeline-head' }, 'Timeline ', h('span', { class: 'legend queued' }), ' queued ', h('span', { class: 'legend ran' }), ' ran'))), tasksBody),
    h('h2', {}, 'Snapshots'),
    snapshotsEl,
    h('h2', {}, 'Outputs'),
    outputsEl,
  );

  const rows = new Map();
  /** The activity that carried each task, as seen while it ran (the job JSON names it only then). */
  const carriers = new Map();
  let timeline = null;
  let shownOutputs = '';
  let signedBase = null;
  let last = null;

  async function refreshTimeline() {
    try {
      timeline = await api(`/console/api/jobs/${id}/timeline`);
      temporalLink.href = timeline.temporalUi;
      if (last) drawTimeline(last);
    } catch {
      // the timeline is a nicety; the job itself shows
    }
  }

  function drawTimeline(job) {
    if (!timeline) return;
    const start = Date.parse(job.createdAt);
    const acts = timeline.activities;
    const end = Math.max(Date.now() * (FINAL.includes(job.status) ? 0 : 1), ...acts.map((a) => Date.parse(a.endedAt ?? a.startedAt ?? a.scheduledAt)), Date.parse(job.finishedAt ?? job.createdAt));
    const span = Math.max(1, end - start);
    const pct = (t) => `${(((Date.parse(t) - start) / span) * 100).toFixed(2)}%`;
    const width = (a, b) => `${Math.max(0.5, ((Date.parse(b) - Date.parse(a)) / span) * 100).toFixed(2)}%`;
    for (const [taskId, row] of rows) {
      const task = job.tasks.find((t) => t.id === taskId);
      if (task?.activity) carriers.set(taskId, task.activity);
      const ids = [carriers.get(taskId), taskId, `encode:${taskId}`].filter(Boolean);
      const ours = (a) => ids.some((i) => a.activityId === i || a.activityId.startsWith(`${i}#`) || a.activityId.startsWith(`${i}/`));
      let mine = acts.filter(ours);
      // A rendition encoded together with others (one decode, several outputs): the shared encodes.
      if (!mine.length && task?.kind === 'transcode') mine = acts.filter((a) => /^(encode|chunk|join|audio)/i.test(a.type) || a.activityId.startsWith('encode:'));
      const now = new Date().toISOString();
      row.timeline.replaceChildren(
        ...mine.flatMap((a) => {
          const started = a.startedAt ?? (a.endedAt ? a.endedAt : null);
          const queuedEnd = started ?? now;
          const bars = [h('span', { class: 'queued', style: { left: pct(a.scheduledAt), width: width(a.scheduledAt, queuedEnd) }, title: `queued ${when(a.scheduledAt)}` })];
          if (started) bars.push(h('span', { class: `ran ${a.outcome}`, style: { left: pct(started), width: width(started, a.endedAt ?? now) }, title: `${a.type}: ran ${when(started)} – ${a.endedAt ? when(a.endedAt) : 'now'} (${a.outcome})` }));
          return bars;
        }),
      );
    }
  }

  function drawTasks(job) {
    for (const t of job.tasks) {
      let row = rows.get(t.id);
      if (!row) {
        row = { bar: progressBar(0, `progress of ${t.id}`), status: h('td'), attempts: h('td'), error: h('div', { class: 'task-error' }), timeline: h('div', { class: 'timeline' }) };
        rows.set(t.id, row);
        tasksBody.append(h('tr', { dataset: { task: t.id } }, h('td', {}, h('code', {}, t.id), row.error), row.status, h('td', {}, row.bar), row.attempts, h('td', {}, row.timeline)));
      }
      const changed = row.status.textContent !== t.status;
      row.bar.update(t.progress);
      row.status.replaceChildren(badge(t.status));
      row.attempts.textContent = String(t.attempts);
      row.error.replaceChildren(t.error ? h('span', { class: 'warn' }, PLAIN[t.error.code] ?? t.error.code, ' ', h('span', { class: 'muted' }, t.error.message)) : '');
      if (changed && timer === null) timer = setTimeout(() => ((timer = null), refreshTimeline()), 500);
    }
  }

  function drawInput(job) {
    const m = job.input.media;
    const source = job.input.key ?? job.input.url;
    inputInfo.replaceChildren(
      h('div', {}, h('code', {}, source)),
      m
        ? h(
            'dl',
            { class: 'media' },
            h('dt', {}, 'Duration'), h('dd', {}, duration(m.durationSec)),
            h('dt', {}, 'Container'), h('dd', {}, m.container),
            h('dt', {}, 'Size'), h('dd', {}, bytes(m.sizeBytes)),
            h('dt', {}, 'Video'), h('dd', {}, m.video ? `${m.video.codec} ${m.video.width}×${m.video.height} @ ${m.video.fps} fps${m.video.rotation ? `, rotated ${m.video.rotation}°` : ''}` : 'none'),
            h('dt', {}, 'Audio'), h('dd', {}, m.audio.length ? m.audio.map((a) => `${a.codec} ${a.channels} ch ${a.sampleRate} Hz`).join('; ') : 'none'),
          )
        : h('p', { class: 'muted' }, 'Not probed yet.'),
    );
  }

  const urlOf = (key) => `${signedBase}${key.slice(jobFolder(last).length).split('/').map(encodeURIComponent).join('/')}`;

  async function drawMedia(job) {
    const keys = JSON.stringify([job.outputs.map((o) => o.key), job.snapshots.map((s) => s.keys)]);
    if (keys === shownOutputs) return;
    shownOutputs = keys;
    const folder = jobFolder(job);
    if (!folder) {
      outputsEl.replaceChildren(h('p', { class: 'muted' }, FINAL.includes(job.status) ? 'No outputs.' : 'Outputs appear here when they are ready.'));
      return;
    }
    signedBase ??= await signedUrl(folder);
    snapshotsEl.replaceChildren(
      ...job.snapshots.map((s) =>
        h('figure', { dataset: { snapshot: s.name } }, ...s.keys.filter(imageKey).map((k) => h('a', { href: urlOf(k), target: '_blank' }, h('img', { src: urlOf(k), alt: `${s.name}: ${k}`, loading: 'lazy' }))), h('figcaption', {}, s.name, ' ', ...s.keys.filter((k) => !imageKey(k)).map((k) => h('a', { href: urlOf(k), download: '' }, k.split('/').pop())))),
      ),
    );
    if (!job.snapshots.length) snapshotsEl.replaceChildren(h('p', { class: 'muted' }, 'None.'));
    outputsEl.replaceChildren(
      ...job.outputs.map((o) => {
        const problem = h('div');
        const media = player(urlOf(o.key), { name: o.name, audioOnly: audioOnly(o), onError: (msg) => problem.replaceChildren(h('div', { class: 'error' }, `Cannot play: ${msg}`)) });
        return h(
          'article',
          { class: 'output card', dataset: { output: o.name } },
          h('h3', {}, o.name),
          media,
          problem,
          h('p', {}, bytes(o.sizeBytes), ' · ', duration(o.durationSec), o.video ? ` · ${o.video.codec} ${o.video.width}×${o.video.height}${o.video.bitrateKbps ? ` ${o.video.bitrateKbps} kb/s` : ''}` : '', o.audio ? ` · ${o.audio.codec} ${o.audio.channels} ch` : ''),
          o.renditions
            ? h('ul', { class: 'renditions' }, o.renditions.map((r) => h('li', {}, `${r.name}: ${r.width}×${r.height} @ ${r.fps} fps, ${r.codecs}${r.bandwidth ? `, ${Math.round(r.bandwidth / 1000)} kb/s` : ''} `, h('a', { href: urlOf(r.key) }, 'playlist'))))
            : null,
          h('a', { class: 'button', href: urlOf(o.key), download: o.key.split('/').pop() }, o.renditions ? 'Download playlist' : 'Download'),
        );
      }),
    );
  }

  function drawActions(job) {
    const cancel = h('button', { class: 'danger', disabled: FINAL.includes(job.status), onclick: () => act('cancel') }, 'Cancel');
    const retry = h('button', { disabled: job.status !== 'failed', onclick: () => act('retry') }, 'Retry failed tasks');
    actions.replaceChildren(cancel, retry);
  }

  async function act(what) {
    message.replaceChildren();
    try {
      await api(`/v1/jobs/${id}/${what}`, { method: 'POST' });
      message.replaceChildren(h('p', { class: 'ok' }, what === 'cancel' ? 'Cancel requested.' : 'Retry started.'));
      follow();
    } catch (err) {
      message.replaceChildren(errorBox(err));
    }
  }

  function show(job) {
    last = job;
    status.replaceChildren(badge(job.status));
    el.dataset.status = job.status;
    overall.update(job.progress);
    errorSlot.replaceChildren(plainError(job.error) ?? '');
    drawActions(job);
    drawInput(job);
    drawTasks(job);
    drawTimeline(job);
    drawMedia(job).catch((err) => message.replaceChildren(errorBox(err)));
  }

  function follow() {
    stop();
    stop = followJob(id, show, (err) => {
      if (err) message.replaceChildren(errorBox(err));
      refreshTimeline();
    });
  }

  api(`/v1/jobs/${id}`).then(
    (job) => {
      show(job);
      refreshTimeline();
      follow();
    },
    (err) => message.replaceChildren(errorBox(err)),
  );
  return { el, stop: () => (stop(), clearTimeout(timer)) };
}
