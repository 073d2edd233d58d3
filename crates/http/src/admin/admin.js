// Gatehouse dashboard: light progressive enhancement. Every page works without it.
// 1. Metadata editors: the JSON is checked as it is typed (syntax, an object, Auth0's key
//    rules), the error is shown next to the editor and saving waits until it is fixed.
// 2. A running job's page follows the job's progress and reloads when it ends.
// 3. Script editors: the line numbers the server drew beside each one follow its text as it
//    is edited and its scrolling.
'use strict';

function metadataProblem(name, text) {
  if (text.trim() === '') return null;
  let value;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return name + ' is not valid JSON: ' + e.message;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return name + ' must be a JSON object ({ … }).';
  }
  const walk = (obj, path) => {
    if (obj === null || typeof obj !== 'object') return null;
    for (const key of Object.keys(obj)) {
      if (key.includes('.') || key.includes('$')) {
        return name + ': the key "' + path + key + '" cannot contain "." or "$".';
      }
      const inner = walk(obj[key], path + key + '.');
      if (inner) return inner;
    }
    return null;
  };
  return walk(value, '');
}

function enhanceMetadata(form) {
  const box = form.querySelector('[data-json-error]');
  const editors = form.querySelectorAll('textarea[data-json]');
  const button = form.querySelector('button[type=submit]');
  const check = () => {
    let problem = null;
    for (const t of editors) {
      const p = metadataProblem(t.name, t.value);
      t.setAttribute('aria-invalid', p ? 'true' : 'false');
      if (p && !problem) problem = p;
    }
    box.textContent = problem || '';
    box.hidden = !problem;
    button.disabled = !!problem;
    return !problem;
  };
  for (const t of editors) {
    t.setAttribute('aria-describedby', box.id);
    t.addEventListener('input', check);
  }
  form.addEventListener('submit', (e) => { if (!check()) e.preventDefault(); });
  if (box.hidden) check();
}

function followJob(section) {
  const url = section.getAttribute('data-job');
  const status = document.getElementById('job-status');
  const processed = document.getElementById('job-processed');
  const bar = document.getElementById('job-progress');
  const tick = async () => {
    try {
      const res = await fetch(url, { credentials: 'same-origin', headers: { accept: 'application/json' } });
      if (!res.ok) return;
      const job = await res.json();
      status.textContent = job.status;
      const total = job.total;
      processed.textContent = job.processed + (total ? ' of ' + total : '');
      if (bar && total) { bar.max = total; bar.value = job.processed; }
      if (job.status !== 'pending' && job.status !== 'processing') {
        window.location.reload();
        return;
      }
    } catch (_) { /* try again */ }
    setTimeout(tick, 1000);
  };
  setTimeout(tick, 500);
}

function numberLines(editor) {
  const gutter = document.getElementById(editor.getAttribute('data-gutter'));
  if (!gutter) return;
  let shown = 0;
  const follow = () => {
    const count = editor.value.split('\n').length;
    if (count !== shown) {
      const numbers = [];
      for (let n = 1; n <= count; n++) numbers.push(n);
      gutter.textContent = numbers.join('\n');
      shown = count;
    }
    gutter.scrollTop = editor.scrollTop;
  };
  editor.addEventListener('input', follow);
  editor.addEventListener('scroll', () => { gutter.scrollTop = editor.scrollTop; });
  follow();
}

document.addEventListener('DOMContentLoaded', () => {
  document.querySelectorAll('textarea[data-gutter]').forEach(numberLines);
  document.querySelectorAll('form[data-metadata-form]').forEach(enhanceMetadata);
  const job = document.querySelector('[data-job]');
  if (job) followJob(job);
});
