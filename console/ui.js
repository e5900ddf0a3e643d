// Small DOM helpers: no framework, just elements.

/** h('a', { href: '#', class: 'x', onclick }, 'text', child) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    // Through the CSSOM: the page's CSP refuses inline style attributes.
    else if (k === 'style') Object.assign(el.style, v);
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

/** A progress bar: <progress> with the percentage beside it; update(fraction). */
export function progressBar(fraction = 0, label = '') {
  const bar = h('progress', { max: 100, value: 0, 'aria-label': label || 'progress' });
  const text = h('span', { class: 'pct' });
  const el = h('span', { class: 'progress' }, bar, text);
  el.update = (f) => {
    const pct = Math.round(Math.max(0, Math.min(1, f ?? 0)) * 100);
    bar.value = pct;
    text.textContent = `${pct} %`;
    el.dataset.value = String(pct);
  };
  el.update(fraction);
  return el;
}

export function badge(status) {
  return h('span', { class: `badge ${status}` }, status);
}

export function bytes(n) {
  if (n === null || n === undefined) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i ? n.toFixed(1) : n} ${units[i]}`;
}

export function when(iso) {
  return iso ? new Date(iso).toLocaleString() : '–';
}

export function duration(sec) {
  if (sec === null || sec === undefined) return '–';
  const m = Math.floor(sec / 60);
  const s = (sec % 60).toFixed(sec < 10 ? 1 : 0);
  return m ? `${m} min ${s} s` : `${s} s`;
}

/** A message box for an error (an ApiError's detail and field errors). */
export function errorBox(err) {
  return h(
    'div',
    { class: 'error', role: 'alert' },
    h('strong', {}, err.status ? `${err.status}: ` : ''),
    err.message,
    err.fieldErrors?.length ? h('ul', {}, err.fieldErrors.map((e) => h('li', {}, h('code', {}, e.path), ' ', e.message))) : null,
  );
}

export const FINAL = ['succeeded', 'failed', 'canceled'];
