// Submit: upload a file (with an upload progress bar) or give a URL, pick templates and snapshots, submit.
import { api, upload } from '../api.js';
import { errorBox, h, progressBar } from '../ui.js';

const safeName = (s) => s.replace(/[^A-Za-z0-9_-]+/g, '-').replace(/^[-_]+/, '').slice(0, 64) || 'output';

export function submitPage() {
  const file = h('input', { type: 'file', name: 'file', accept: 'video/*,audio/*' });
  const url = h('input', { type: 'url', name: 'url', placeholder: 'https://example.com/video.mp4' });
  const pipeline = h('select', { name: 'pipeline' });
  const outputs = h('fieldset', { class: 'choices outputs' }, h('legend', {}, 'Outputs (transcode templates)'));
  const snapshots = h('fieldset', { class: 'choices snapshots' }, h('legend', {}, 'Snapshots (none picked: one poster)'));
  const bar = progressBar(0, 'upload progress');
  bar.classList.add('upload-progress');
  bar.hidden = true;
  const message = h('div');
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Submit');
  const form = h(
    'form',
    { class: 'submit', onsubmit: (e) => (e.preventDefault(), send()) },
    h('h1', {}, 'Submit a job'),
    h('div', { class: 'card' }, h('label', {}, 'Upload a file ', file), h('p', { class: 'muted' }, 'or'), h('label', {}, 'Fetch a URL ', url), bar),
    h('label', {}, 'Pipeline ', pipeline),
    outputs,
    snapshots,
    message,
    submit,
  );

  Promise.all([api('/v1/templates'), api('/v1/pipelines')]).then(
    ([{ templates }, { pipelines }]) => {
      pipeline.append(...pipelines.map((p) => h('option', { value: p.id, selected: p.id === 'default' }, `${p.id}${p.state === 'paused' ? ' (paused)' : ''}`)));
      const pick = (t) => h('label', { class: 'choice' }, h('input', { type: 'checkbox', name: t.kind, value: t.id }), ' ', t.id, t.system ? '' : h('span', { class: 'muted' }, ' (own)'));
      outputs.append(...templates.filter((t) => t.kind === 'transcode').map(pick));
      snapshots.append(...templates.filter((t) => t.kind === 'snapshot').map(pick));
    },
    (err) => message.replaceChildren(errorBox(err)),
  );

  async function send() {
    message.replaceChildren();
    const chosen = (kind) => [...form.querySelectorAll(`input[name=${kind}]:checked`)].map((i) => i.value);
    const picked = file.files[0];
    if (!picked && !url.value) return message.replaceChildren(errorBox({ message: 'Choose a file to upload or give a URL.' }));
    submit.disabled = true;
    try {
      let input;
      if (picked) {
        bar.hidden = false;
        const key = `uploads/${Date.now().toString(36)}-${picked.name.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+/, '') || 'upload'}`;
        await upload(key, picked, (f) => bar.update(f));
        input = { key };
      } else {
        input = { url: url.value };
      }
      const snaps = chosen('snapshot');
      const body = {
        input,
        pipeline: pipeline.value || 'default',
        outputs: chosen('transcode').map((t) => ({ name: safeName(t), template: t })),
        ...(snaps.length ? { snapshots: snaps.map((t) => ({ name: safeName(t), template: t })) } : {}),
      };
      const job = await api('/v1/jobs', { method: 'POST', body });
      location.hash = `#/jobs/${job.id}`;
    } catch (err) {
      message.replaceChildren(errorBox(err));
    } finally {
      submit.disabled = false;
    }
  }

  return { el: form };
}
