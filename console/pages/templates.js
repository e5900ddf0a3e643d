// Templates: system presets (read-only) and the tenant's own; create and edit as JSON, with the API's field errors.
import { api } from '../api.js';
import { errorBox, h } from '../ui.js';

const EXAMPLE = { id: 'my-720p', kind: 'transcode', container: 'mp4', video: { codec: 'h264', width: 1280, height: 720, bitrateKbps: 2000 }, audio: { codec: 'aac', bitrateKbps: 128 } };

export function templatesPage() {
  const body = h('tbody');
  const message = h('div');
  const editor = h('textarea', { name: 'template', rows: 14, spellcheck: false });
  const editing = { id: null };
  const heading = h('h2', {}, 'New template');
  const form = h(
    'form',
    { class: 'card template-form', onsubmit: (e) => (e.preventDefault(), save()) },
    heading,
    h('p', { class: 'muted' }, 'The template as JSON (kind: transcode, snapshot or watermark); the API checks every field.'),
    editor,
    message,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Save'), h('button', { type: 'button', onclick: () => edit(null) }, 'New')),
  );
  const el = h('section', { class: 'templates' }, h('h1', {}, 'Templates'), h('table', { class: 'list' }, h('thead', {}, h('tr', {}, h('th', {}, 'Id'), h('th', {}, 'Kind'), h('th', {}, 'Summary'), h('th', {}, ''))), body), form);

  function summary(t) {
    if (t.kind === 'transcode') return [t.container, t.video && `${t.video.codec ?? ''} ${t.video.width ?? ''}×${t.video.height ?? ''}`, t.audio && t.audio.codec, t.ladder && 'ladder'].filter(Boolean).join(' · ');
    if (t.kind === 'snapshot') return [t.time !== undefined && `at ${t.time} s`, t.interval && `every ${t.interval} s`, t.count && `${t.count} frames`, t.format, t.sprite && 'sprite'].filter(Boolean).join(' · ');
    return [t.text ? `text "${t.text.content}"` : 'image', t.position].join(' · ');
  }

  function edit(t) {
    message.replaceChildren();
    editing.id = t?.id ?? null;
    heading.textContent = t ? `Edit ${t.id}` : 'New template';
    if (!t) return (editor.value = JSON.stringify(EXAMPLE, null, 2));
    const { system, createdAt, updatedAt, ...own } = t;
    editor.value = JSON.stringify(own, null, 2);
  }

  async function save() {
    message.replaceChildren();
    let json;
    try {
      json = JSON.parse(editor.value);
    } catch (err) {
      return message.replaceChildren(errorBox({ message: `Not valid JSON: ${err.message}` }));
    }
    try {
      if (editing.id) await api(`/v1/templates/${encodeURIComponent(editing.id)}`, { method: 'PUT', body: json });
      else await api('/v1/templates', { method: 'POST', body: json });
      message.replaceChildren(h('p', { class: 'ok' }, 'Saved.'));
      load();
    } catch (err) {
      message.replaceChildren(errorBox(err));
    }
  }

  async function load() {
    try {
      const { templates } = await api('/v1/templates');
      body.replaceChildren(
        ...templates.map((t) =>
          h(
            'tr',
            { dataset: { template: t.id } },
            h('td', {}, h('code', {}, t.id), t.system ? h('span', { class: 'muted' }, ' preset') : ''),
            h('td', {}, t.kind),
            h('td', {}, summary(t)),
            h('td', {}, t.system ? h('button', { onclick: () => { edit({ ...t, id: `${t.id}-copy` }); editing.id = null; heading.textContent = `New template from ${t.id}`; } }, 'Copy') : h('button', { onclick: () => edit(t) }, 'Edit')),
          ),
        ),
      );
    } catch (err) {
      body.replaceChildren(h('tr', {}, h('td', { colspan: 4 }, errorBox(err))));
    }
  }

  edit(null);
  load();
  return { el };
}
