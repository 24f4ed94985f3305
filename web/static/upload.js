// portalo – the upload widget (templates/upload_widget.html): resumable
// uploads of large media files to /api/v1/uploads, in chunks sliced from the
// File (nothing big is read into memory), with a progress bar, pause and
// resume, cancel, automatic retries with backoff after network errors, and
// resumption after a page reload (the upload's ID is kept in localStorage
// under the item, role and file's name, size and modification time).
// Plain JS, no libraries. When an upload completes, the widget's element
// fires a "portalo:upload-complete" event ({item, role, id} in detail).
(function () {
  'use strict';

  const root = document.querySelector('[data-upload-widget]');
  if (!root || !window.XMLHttpRequest || !window.Blob || !Blob.prototype.slice) return;

  const cfg = {
    item: root.dataset.item || '',
    api: root.dataset.api || '/api/v1/uploads',
    lang: root.dataset.lang || document.documentElement.lang || 'de',
  };
  const el = {
    form: root.querySelector('#upload-form'),
    role: root.querySelector('#upload-role'),
    file: root.querySelector('#upload-file'),
    start: root.querySelector('#upload-start'),
    pause: root.querySelector('#upload-pause'),
    cancel: root.querySelector('#upload-cancel'),
    // The buttons are shown and hidden through their boxes (see the template).
    startBox: root.querySelector('#upload-start-box'),
    pauseBox: root.querySelector('#upload-pause-box'),
    cancelBox: root.querySelector('#upload-cancel-box'),
    box: root.querySelector('#upload-progress-box'),
    progress: root.querySelector('#upload-progress'),
    progressText: root.querySelector('#upload-progress-text'),
    status: root.querySelector('#upload-status'),
  };
  const MAX_BACKOFF_S = 30;

  const st = {
    run: 0,          // increases whenever a run of the upload loop must stop
    phase: 'idle',   // idle | checking | uploading | paused | retrying | finishing | done
    file: null, role: '', key: '',
    id: '', size: 0, offset: 0, chunkSize: 0,
    xhr: null, wake: null, attempt: 0,
    said: '',        // the name of the status message shown
  };

  // ---------------------------------------------------------------- texts

  // t returns the text name with {placeholders} filled in; each value is
  // a bidi isolate, so that numbers and file names keep their order in a
  // right-to-left text and vice versa.
  function t(name, vars) {
    const s = root.dataset['t' + name.charAt(0).toUpperCase() + name.slice(1)];
    if (typeof s !== 'string') return name;
    return s.replace(/\{(\w+)\}/g, (m, k) => (vars && k in vars ? '\u2068' + String(vars[k]) + '\u2069' : m));
  }

  function percentText(fraction) {
    const f = Math.min(1, Math.max(0, fraction));
    try {
      return new Intl.NumberFormat(cfg.lang, { style: 'percent', maximumFractionDigits: 0 }).format(Math.floor(f * 100) / 100);
    } catch (e) {
      return Math.floor(f * 100) + ' %';
    }
  }

  function bytesText(n) {
    const units = [[1e9, 'gigabyte', 'GB'], [1e6, 'megabyte', 'MB'], [1e3, 'kilobyte', 'kB']];
    let [div, unit, short] = [1, 'byte', 'B'];
    for (const u of units) {
      if (n >= u[0]) { [div, unit, short] = u; break; }
    }
    const v = n / div;
    try {
      return new Intl.NumberFormat(cfg.lang, { style: 'unit', unit: unit, unitDisplay: 'short', maximumFractionDigits: 1 }).format(v);
    } catch (e) {
      return (Math.round(v * 10) / 10) + ' ' + short;
    }
  }

  // ---------------------------------------------------------------- view

  // say shows the status message name (see t); '' clears it.
  function say(name, vars) {
    st.said = name;
    el.status.textContent = name ? t(name, vars) : '';
  }

  function showProgress(bytes) {
    const done = Math.min(Math.max(bytes, 0), st.size);
    const fraction = st.size > 0 ? done / st.size : 0;
    el.box.hidden = false;
    el.progress.max = 100;
    el.progress.value = Math.floor(fraction * 1000) / 10;
    el.progressText.textContent = t('progress', { percent: percentText(fraction), done: bytesText(done), total: bytesText(st.size) });
  }

  function setPhase(phase) {
    st.phase = phase;
    const active = phase === 'checking' || phase === 'uploading' || phase === 'retrying' || phase === 'finishing' || phase === 'paused';
    el.startBox.hidden = active;
    el.role.disabled = active;
    el.file.disabled = active;
    el.pauseBox.hidden = !(phase === 'uploading' || phase === 'retrying' || phase === 'paused');
    el.pause.textContent = phase === 'paused' ? t('resume') : t('pause');
    el.cancelBox.hidden = !active || phase === 'finishing';
  }

  // ---------------------------------------------------------------- storage

  function storageKey(file, role) {
    return 'portalo.upload:' + cfg.item + ':' + role + ':' + file.name + ':' + file.size + ':' + file.lastModified;
  }

  function remembered(key) {
    try { return localStorage.getItem(key) || ''; } catch (e) { return ''; }
  }

  function remember(key, id) {
    try { localStorage.setItem(key, id); } catch (e) { /* private mode: no resumption after a reload */ }
  }

  function forget(key) {
    try { localStorage.removeItem(key); } catch (e) { /* see remember */ }
  }

  // ---------------------------------------------------------------- requests

  // request sends one request and resolves with {status, body, headers} for
  // any answer of the server, or rejects with {network: true} (no answer)
  // or {aborted: true}. onProgress gets the bytes of body sent so far.
  function request(method, url, body, headers, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      st.xhr = xhr;
      xhr.open(method, url);
      xhr.setRequestHeader('Accept', 'application/json');
      for (const h in headers || {}) xhr.setRequestHeader(h, headers[h]);
      if (onProgress && xhr.upload) {
        xhr.upload.onprogress = (e) => onProgress(e.loaded);
      }
      xhr.onload = () => {
        if (st.xhr === xhr) st.xhr = null;
        let data = null;
        try { data = xhr.responseText ? JSON.parse(xhr.responseText) : null; } catch (e) { data = null; }
        resolve({ status: xhr.status, body: data || {}, offset: xhr.getResponseHeader('Upload-Offset') });
      };
      xhr.onerror = xhr.ontimeout = () => {
        if (st.xhr === xhr) st.xhr = null;
        reject({ network: true });
      };
      xhr.onabort = () => {
        if (st.xhr === xhr) st.xhr = null;
        reject({ aborted: true });
      };
      xhr.send(body === undefined ? null : body);
    });
  }

  function errorMessage(res) {
    return (res && res.body && res.body.error && res.body.error.message) || t('generic');
  }

  function offsetOf(res) {
    if (res.body && typeof res.body.offset === 'number') return res.body.offset;
    const h = parseInt(res.offset, 10);
    return isNaN(h) ? -1 : h;
  }

  // wait resolves after ms, or early when the browser comes back online
  // ({online: true}) or the run is stopped ({alive: false}).
  function wait(run, ms) {
    return new Promise((resolve) => {
      let timer = 0;
      const done = (online) => {
        clearTimeout(timer);
        window.removeEventListener('online', onOnline);
        if (st.wake === wake) st.wake = null;
        resolve({ alive: run === st.run, online: online });
      };
      const onOnline = () => done(true);
      const wake = () => done(false);
      st.wake = wake;
      timer = setTimeout(() => done(false), ms);
      window.addEventListener('online', onOnline);
    });
  }

  // backoff waits before the next attempt after a network error
  // ('retrying') or a busy or failing server ('waiting'): 1, 2, 4 … 30 s
  // with some jitter, counting down in the status.
  async function backoff(run, why) {
    st.attempt++;
    const seconds = Math.min(MAX_BACKOFF_S, Math.pow(2, st.attempt - 1));
    const ms = seconds * 1000 * (0.8 + Math.random() * 0.4);
    setPhase('retrying');
    const until = Date.now() + ms;
    while (run === st.run) {
      const left = until - Date.now();
      if (left <= 0) break;
      if (navigator.onLine === false) say('offline');
      else say(why || 'retrying', { seconds: Math.ceil(left / 1000) });
      const w = await wait(run, Math.min(1000, left));
      if (!w.alive) return false;
      if (w.online) break;
    }
    return run === st.run;
  }

  // ---------------------------------------------------------------- the upload

  function stop() {
    st.run++;
    if (st.wake) st.wake();
    if (st.xhr) { const x = st.xhr; st.xhr = null; x.abort(); }
  }

  // status asks the server where the upload stands: the answer, or null
  // when it does not know the upload (404).
  async function status(run) {
    for (;;) {
      let why = 'retrying';
      try {
        const res = await request('GET', cfg.api + '/' + encodeURIComponent(st.id));
        if (res.status === 200) return res;
        if (res.status === 404) return null;
        if (res.status < 500 && res.status !== 429) throw { fatal: res };
        why = 'waiting';
      } catch (e) {
        if (e.fatal || e.aborted) throw e;
      }
      if (!(await backoff(run, why))) throw { aborted: true };
    }
  }

  async function create(run) {
    for (;;) {
      let res;
      try {
        res = await request('POST', cfg.api, JSON.stringify({
          item: cfg.item, role: st.role, name: st.file.name, size: st.file.size, type: st.file.type || '',
        }), { 'Content-Type': 'application/json' });
      } catch (e) {
        if (e.aborted) throw e;
        if (!(await backoff(run))) throw { aborted: true };
        continue;
      }
      if (res.status === 201) return res;
      if (res.status >= 500 || res.status === 429) {
        if (!(await backoff(run, 'waiting'))) throw { aborted: true };
        continue;
      }
      throw { fatal: res };
    }
  }

  function adopt(res) {
    const b = res.body;
    st.id = b.id;
    st.size = b.size;
    st.offset = b.offset;
    st.chunkSize = Math.max(1, b.chunk_size || b.min_chunk || 5242880);
  }

  // begin finds an earlier upload of the file or creates one, then sends
  // the rest.
  async function begin() {
    const file = el.file.files && el.file.files[0];
    if (!file) {
      say('nofile');
      el.file.focus();
      return;
    }
    stop();
    const run = st.run;
    st.file = file;
    st.role = el.role.value;
    st.key = storageKey(file, st.role);
    st.attempt = 0;
    st.id = '';
    st.size = file.size;
    setPhase('checking');
    try {
      const saved = remembered(st.key);
      if (saved) {
        say('checking');
        st.id = saved;
        const res = await status(run);
        if (res && !res.body.complete && res.body.size === file.size) {
          adopt(res);
          if (st.offset > 0) say('resumable', { percent: percentText(st.offset / st.size) });
        } else {
          forget(st.key);
          st.id = '';
          if (!res) say('expired');
        }
      }
      if (!st.id) {
        if (!saved) say('starting');
        const res = await create(run);
        adopt(res);
        remember(st.key, st.id);
      }
      if (run !== st.run) return;
      await send(run);
    } catch (e) {
      handleFailure(run, e);
    }
  }

  // send uploads the chunks from st.offset on and completes the upload.
  async function send(run) {
    setPhase('uploading');
    if (st.said !== 'resumable') say('uploading');
    showProgress(st.offset);
    while (st.offset < st.size) {
      if (run !== st.run) return;
      const start = st.offset;
      const end = Math.min(start + st.chunkSize, st.size);
      let res;
      try {
        res = await request('PUT', cfg.api + '/' + encodeURIComponent(st.id), st.file.slice(start, end), {
          'Content-Type': 'application/octet-stream',
          'Content-Range': 'bytes ' + start + '-' + (end - 1) + '/' + st.size,
        }, (sent) => { if (run === st.run) showProgress(start + Math.min(sent, end - start)); });
      } catch (e) {
        if (e.aborted || run !== st.run) return;
        // No answer: the connection broke. Wait, then ask where to go on
        // (the chunk may have arrived although its answer did not).
        if (!(await backoff(run))) return;
        const s = await status(run);
        if (!s) { await restart(run); return; }
        st.offset = s.body.offset;
        showProgress(st.offset);
        setPhase('uploading');
        say('uploading');
        continue;
      }
      if (run !== st.run) return;
      if (res.status === 200) {
        st.offset = res.body.offset;
        st.attempt = 0;
        if (st.phase !== 'uploading') { setPhase('uploading'); say('uploading'); }
        showProgress(st.offset);
        continue;
      }
      const at = offsetOf(res);
      if (res.status === 409 && at >= 0) {
        // Wrong offset (an earlier attempt arrived after all) or busy.
        st.offset = at;
        showProgress(st.offset);
        if (res.body.error && res.body.error.code === 'busy' && !(await backoff(run, 'waiting'))) return;
        continue;
      }
      if (res.status === 422 && at >= 0 && res.body.error && res.body.error.code === 'chunk_incomplete') {
        st.offset = at;
        continue;
      }
      if (res.status === 404) { await restart(run); return; }
      if (res.status >= 500 || res.status === 429) {
        if (!(await backoff(run, 'waiting'))) return;
        continue;
      }
      throw { fatal: res };
    }
    await complete(run);
  }

  // restart begins anew after the server forgot the upload (expired).
  async function restart(run) {
    forget(st.key);
    say('expired');
    const res = await create(run);
    if (run !== st.run) return;
    adopt(res);
    remember(st.key, st.id);
    await send(run);
  }

  async function complete(run) {
    setPhase('finishing');
    say('finishing');
    showProgress(st.size);
    for (;;) {
      let res;
      try {
        res = await request('POST', cfg.api + '/' + encodeURIComponent(st.id) + '/complete');
      } catch (e) {
        if (e.aborted || !(await backoff(run))) return;
        setPhase('finishing');
        say('finishing');
        continue;
      }
      if (run !== st.run) return;
      if (res.status === 200) break;
      if (res.status === 409 && res.body.error && res.body.error.code === 'incomplete') {
        st.offset = offsetOf(res);
        await send(run);
        return;
      }
      if (res.status >= 500 || res.status === 429 || (res.status === 409 && res.body.error && res.body.error.code === 'busy')) {
        if (!(await backoff(run, 'waiting'))) return;
        setPhase('finishing');
        say('finishing');
        continue;
      }
      throw { fatal: res };
    }
    forget(st.key);
    setPhase('done');
    say('done', { name: st.file.name });
    root.dispatchEvent(new CustomEvent('portalo:upload-complete', { bubbles: true, detail: { item: cfg.item, role: st.role, id: st.id } }));
  }

  function handleFailure(run, e) {
    if (run !== st.run || (e && e.aborted)) return;
    setPhase('idle');
    if (e && e.fatal) {
      if (e.fatal.status === 404) forget(st.key);
      say('failed', { message: errorMessage(e.fatal) });
    } else {
      say('failed', { message: t('generic') });
      if (window.console) console.warn('upload', e);
    }
  }

  function pauseOrResume() {
    if (st.phase === 'paused') {
      const run = ++st.run;
      st.attempt = 0;
      setPhase('uploading');
      say('uploading');
      (async () => {
        try {
          const s = await status(run);
          if (!s) { await restart(run); return; }
          st.offset = s.body.offset;
          await send(run);
        } catch (e) {
          handleFailure(run, e);
        }
      })();
      return;
    }
    stop();
    setPhase('paused');
    say('paused');
    showProgress(st.offset);
  }

  function cancel() {
    stop();
    const id = st.id;
    if (id) {
      request('DELETE', cfg.api + '/' + encodeURIComponent(id)).catch(() => { /* expires by itself */ });
    }
    if (st.key) forget(st.key);
    st.id = '';
    setPhase('idle');
    el.box.hidden = true;
    say('cancelled');
  }

  // lookForEarlier tells, when a file is chosen, whether an earlier upload
  // of it can go on, and from where.
  async function lookForEarlier() {
    const file = el.file.files && el.file.files[0];
    if (!file || st.phase !== 'idle' && st.phase !== 'done') return;
    const key = storageKey(file, el.role.value);
    const id = remembered(key);
    el.box.hidden = true;
    if (!id) { say(''); return; }
    const run = ++st.run;
    try {
      const res = await request('GET', cfg.api + '/' + encodeURIComponent(id));
      if (run !== st.run) return;
      if (res.status === 200 && !res.body.complete && res.body.size === file.size) {
        st.size = res.body.size;
        showProgress(res.body.offset);
        say('resumable', { percent: percentText(res.body.offset / res.body.size) });
      } else if (res.status === 404 || res.status === 200) {
        forget(key);
        say('');
      }
    } catch (e) {
      /* offline: begin() tries again */
    }
  }

  function syncAccept() {
    const opt = el.role.options[el.role.selectedIndex];
    if (opt && opt.dataset.accept) el.file.setAttribute('accept', opt.dataset.accept);
  }

  // ---------------------------------------------------------------- wiring

  // The site's stylesheet leaves the bar at the browser's small default
  // width; the whole width shows progress better (CSSOM, so CSP allows it).
  el.progress.style.inlineSize = '100%';
  el.progress.style.blockSize = '1.25rem';

  el.form.addEventListener('submit', (e) => {
    e.preventDefault();
    begin();
  });
  el.pause.addEventListener('click', pauseOrResume);
  el.cancel.addEventListener('click', cancel);
  el.file.addEventListener('change', lookForEarlier);
  el.role.addEventListener('change', () => { syncAccept(); lookForEarlier(); });
  syncAccept();
  setPhase('idle');
})();
