// The operators' page: open alerts live from the server's event stream, sorted critical, escalated and oldest first,
// filtered by area, category and severity; a virtual list so 5,000 open alerts stay fast; acknowledge and resolve
// buttons that show the change only when the engine's record comes back. Everything from sensors is set as text
// (textContent), never as HTML.
(() => {
  'use strict';
  const T = JSON.parse(document.getElementById('texts').textContent);
  const token = document.querySelector('meta[name="request-token"]').content;
  const canAct = document.querySelector('meta[name="can-act"]').content === 'true';
  const ROW = 44;
  const NO_ANSWER_MS = 15000;
  const SEVERITY = { critical: 4, high: 3, medium: 2, low: 1, informational: 0 };
  const STATUS = { escalated: 2, raised: 1, acknowledged: 0 };
  const METRICS = [
    ['parking.free', 'parkingFree', 'line', v => Math.round(v).toString()],
    ['parking.occupancy', 'occupancy', 'line', v => `${v.toFixed(0)} %`, 100],
    ['traffic.congested.share', 'congestedShare', 'line', v => `${v.toFixed(0)} %`, 100],
    ['traffic.speed.mean', 'meanSpeed', 'line', v => `${v.toFixed(0)} km/h`],
    ['energy.kwh', 'energy', 'bars', v => `${v.toFixed(1)} kWh`],
  ];

  const state = {
    alerts: new Map(), pending: new Map(), flash: new Map(), areas: new Map(),
    deadLetters: { total: 0, counts: [], latest: [] }, status: { caughtUp: false, lastRecords: {} },
    sorted: [], dirty: true, selected: null, tab: 'alerts', areasDirty: true, rendering: false,
  };
  const $ = id => document.getElementById(id);
  const list = $('list'), spacer = $('spacer');
  const pool = [];
  let audio = null;

  function el(tag, className, text) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  // ---- the stream -------------------------------------------------------------------------------------------
  let source = null;
  function connect() {
    setConnection(T.reconnecting, '');
    source = new EventSource('/api/stream');
    source.addEventListener('snapshot', e => {
      const s = JSON.parse(e.data);
      state.alerts.clear();
      for (const a of s.alerts) state.alerts.set(a.id, a);
      state.areas.clear();
      for (const area of s.areas) {
        const metrics = new Map();
        for (const [name, points] of Object.entries(area.metrics)) metrics.set(name, points);
        state.areas.set(area.areaId, metrics);
      }
      state.deadLetters = s.deadLetters;
      applyStatus(s.status);
      state.areasDirty = true;
      changed();
      renderDeadLetters();
    });
    source.addEventListener('alert', e => applyAlert(JSON.parse(e.data)));
    source.addEventListener('aggregate', e => applyAggregate(JSON.parse(e.data)));
    source.addEventListener('deadletters', e => { state.deadLetters = JSON.parse(e.data); renderDeadLetters(); });
    source.addEventListener('status', e => applyStatus(JSON.parse(e.data)));
    source.onopen = () => applyStatus(state.status);
    source.onerror = () => {
      setConnection(T.reconnecting, '');
      if (source.readyState === EventSource.CLOSED) {
        // The browser gave up (an answer other than the stream): a 401 means the session ended.
        fetch('/api/session', { credentials: 'same-origin' }).then(r => {
          if (r.status === 401) sessionEnded(); else setTimeout(connect, 2000);
        }, () => setTimeout(connect, 2000));
      }
    };
  }

  function sessionEnded() {
    if (source) source.close();
    const banner = $('banner');
    banner.replaceChildren();
    const link = el('a', '', T.sessionEnded);
    link.href = '/login?ReturnUrl=%2F';
    banner.append(link);
    banner.classList.remove('hidden');
    setConnection(T.sessionEnded, '');
  }

  function applyStatus(status) {
    state.status = status;
    if (status.caughtUp) setConnection(T.live, 'live'); else setConnection(T.loading, 'loading');
    renderLastRecords();
  }

  function setConnection(text, className) {
    const c = $('connection');
    c.textContent = text;
    c.className = `connection ${className}`;
  }

  function applyAlert(a) {
    const previous = state.alerts.get(a.id);
    if (previous && a.sequence < previous.sequence) return;
    if (a.status === 'resolved') state.alerts.delete(a.id); else state.alerts.set(a.id, a);
    const pending = state.pending.get(a.id);
    if (pending) {
      const done = a.status === 'resolved' || (pending.action === 'ack' && a.status === 'acknowledged');
      if (done) state.pending.delete(a.id);
      else if (a.lastCommand && a.lastCommand.kind === 'refused' && Date.parse(a.lastCommand.at) >= pending.since - 2000) {
        pending.state = 'refused';
        pending.reason = a.lastCommand.description;
      }
    }

    if (!previous && state.status.caughtUp && a.severity === 'critical' && a.status !== 'resolved') cue(a);
    changed();
    if (state.selected === a.id) openDetails(a.id);
  }

  function applyAggregate(aggregate) {
    let metrics = state.areas.get(aggregate.areaId);
    if (!metrics) { metrics = new Map(); state.areas.set(aggregate.areaId, metrics); }
    const points = metrics.get(aggregate.metric) || [];
    const at = points.findIndex(p => p.start === aggregate.point.start);
    if (at >= 0) points[at] = aggregate.point;
    else {
      points.push(aggregate.point);
      points.sort((x, y) => Date.parse(x.start) - Date.parse(y.start));
      if (points.length > 120) points.shift();
    }
    metrics.set(aggregate.metric, points);
    state.areasDirty = true;
    if (state.tab === 'areas') schedule();
  }

  // ---- the new-critical cue -----------------------------------------------------------------------------------
  function cue(a) {
    state.flash.set(a.id, Date.now() + 3000);
    const banner = $('banner');
    banner.textContent = `${T.newCritical}: ${a.rule} · ${a.sensorId || '-'} · ${a.areaId}`;
    banner.classList.remove('hidden');
    clearTimeout(cue.timer);
    cue.timer = setTimeout(() => banner.classList.add('hidden'), 10000);
    if ($('sound').checked && audio) beep();
  }

  function beep() {
    const now = audio.currentTime;
    for (const start of [0, 0.3]) {
      const tone = audio.createOscillator();
      const gain = audio.createGain();
      tone.frequency.value = 880;
      gain.gain.setValueAtTime(0.2, now + start);
      gain.gain.exponentialRampToValueAtTime(0.001, now + start + 0.25);
      tone.connect(gain).connect(audio.destination);
      tone.start(now + start);
      tone.stop(now + start + 0.25);
    }
  }

  // ---- the list -------------------------------------------------------------------------------------------------
  function changed() { state.dirty = true; schedule(); }

  function schedule() {
    if (state.rendering) return;
    state.rendering = true;
    requestAnimationFrame(() => { state.rendering = false; render(); });
  }

  function compare(a, b) {
    return (SEVERITY[b.severity] ?? 0) - (SEVERITY[a.severity] ?? 0)
      || (STATUS[b.status] ?? 0) - (STATUS[a.status] ?? 0)
      || b.level - a.level
      || Date.parse(a.raisedAt) - Date.parse(b.raisedAt)
      || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  }

  function filters() {
    return { area: $('filter-area').value, category: $('filter-category').value, severity: $('filter-severity').value };
  }

  function render() {
    if (state.dirty) {
      const f = filters();
      state.sorted = [...state.alerts.values()]
        .filter(a => (!f.area || a.areaId === f.area) && (!f.category || a.category === f.category) && (!f.severity || a.severity === f.severity))
        .sort(compare);
      state.dirty = false;
      updateFilterOptions();
      updateSummary();
    }

    renderRows();
    if (state.tab === 'areas' && state.areasDirty) renderAreas();
  }

  function renderRows() {
    const rows = state.sorted;
    spacer.style.height = `${rows.length * ROW}px`;
    $('empty').classList.toggle('hidden', rows.length > 0);
    const first = Math.max(0, Math.floor(list.scrollTop / ROW) - 5);
    const count = Math.ceil((list.clientHeight || 600) / ROW) + 10;
    const now = Date.now();
    for (let i = 0; i < count; i++) {
      const index = first + i;
      let row = pool[i];
      if (!row) { row = createRow(); pool.push(row); list.append(row); }
      if (index >= rows.length) { row.hidden = true; row.dataset.alertId = ''; continue; }
      row.hidden = false;
      fillRow(row, rows[index], index, now);
    }
    for (let i = count; i < pool.length; i++) pool[i].hidden = true;
  }

  function createRow() {
    const row = el('div', 'row');
    row.setAttribute('role', 'row');
    for (let i = 0; i < 8; i++) {
      const cell = el('span');
      cell.setAttribute('role', 'cell');
      row.append(cell);
    }
    const severity = el('span', 'badge');
    row.children[0].append(severity);
    row.children[7].className = 'actions';
    return row;
  }

  function fillRow(row, a, index, now) {
    const c = row.children;
    row.dataset.alertId = a.id;
    row.style.transform = `translateY(${index * ROW}px)`;
    const flashing = (state.flash.get(a.id) || 0) > now;
    row.className = `row ${a.status} sev-${a.severity}${flashing ? ' flash' : ''}${state.selected === a.id ? ' selected' : ''}`;
    const badge = c[0].firstChild;
    badge.className = `badge ${a.severity}`;
    badge.textContent = T[`severity_${a.severity}`] || a.severity;
    c[1].className = `status ${a.status}`;
    c[1].textContent = `${T[`status_${a.status}`] || a.status} · ${T.level} ${a.level}`;
    c[2].textContent = a.rule;
    c[3].textContent = `${a.sensorId || '–'} · ${a.areaId}`;
    c[3].title = c[3].textContent;
    c[4].textContent = (a.recipients || []).join(', ');
    c[5].textContent = age(now - Date.parse(a.raisedAt));
    c[6].textContent = evidenceText(a.evidence);
    c[6].title = c[6].textContent;
    fillActions(c[7], a);
  }

  function fillActions(cell, a) {
    const pending = state.pending.get(a.id);
    const key = `${a.status}|${pending ? pending.state + pending.reason : ''}|${canAct}`;
    if (cell.dataset.key === key && cell.dataset.alertId === a.id) return;
    cell.dataset.key = key;
    cell.dataset.alertId = a.id;
    cell.replaceChildren();
    if (!canAct) return;
    const busy = pending && (pending.state === 'sending' || pending.state === 'waiting');
    if (a.status !== 'acknowledged') {
      const ack = el('button', 'ack', T.ack);
      ack.type = 'button';
      ack.dataset.action = 'ack';
      ack.disabled = busy;
      cell.append(ack);
    }
    const resolve = el('button', 'resolve', T.resolve);
    resolve.type = 'button';
    resolve.dataset.action = 'resolve';
    resolve.disabled = busy;
    cell.append(resolve);
    if (pending) {
      const text = { sending: T.sending, waiting: T.waiting, noanswer: T.noAnswer, failed: T.sendFailed, refused: T.refused }[pending.state];
      const note = el('span', `note${pending.state === 'refused' || pending.state === 'failed' || pending.state === 'noanswer' ? ' bad' : ''}`,
        pending.reason ? `${text}: ${pending.reason}` : text);
      note.title = note.textContent;
      cell.append(note);
    }
  }

  function evidenceText(evidence) {
    return Object.entries(evidence || {}).map(([k, v]) => `${k}=${typeof v === 'number' ? +v.toFixed(3) : v}`).join('  ');
  }

  function age(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    if (s < 60) return `${s} s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`;
    const h = Math.floor(m / 60);
    if (h < 48) return `${h} h ${String(m % 60).padStart(2, '0')} min`;
    return `${Math.floor(h / 24)} d ${h % 24} h`;
  }

  function updateFilterOptions() {
    const sets = { area: new Set(), category: new Set(), severity: new Set() };
    for (const a of state.alerts.values()) { sets.area.add(a.areaId); sets.category.add(a.category); sets.severity.add(a.severity); }
    for (const [name, values] of Object.entries(sets)) {
      const select = $(`filter-${name}`);
      const current = select.value;
      if (current) values.add(current);
      const sorted = name === 'severity' ? [...values].sort((x, y) => (SEVERITY[y] ?? 0) - (SEVERITY[x] ?? 0)) : [...values].sort();
      const key = sorted.join('\u0000');
      if (select.dataset.key === key) continue;
      select.dataset.key = key;
      const options = [el('option', '', T.all)];
      options[0].value = '';
      for (const v of sorted) {
        const o = el('option', '', name === 'severity' ? (T[`severity_${v}`] || v) : v);
        o.value = v;
        options.push(o);
      }
      select.replaceChildren(...options);
      select.value = current;
    }
  }

  function updateSummary() {
    let critical = 0, unacknowledged = 0;
    for (const a of state.alerts.values()) {
      if (a.severity === 'critical') critical++;
      if (a.status !== 'acknowledged') unacknowledged++;
    }
    $('open-count').textContent = state.alerts.size;
    $('summary').textContent = `${state.alerts.size} ${T.open} · ${critical} ${T.critical} · ${unacknowledged} ${T.unacknowledged} · ${state.sorted.length} ${T.shown}`;
    const urgent = [...state.alerts.values()].filter(a => a.severity === 'critical' && a.status !== 'acknowledged').length;
    document.title = urgent > 0 ? `(${urgent}) ${T.title}` : T.title;
  }

  // ---- commands -------------------------------------------------------------------------------------------------
  function send(alertId, action) {
    const pending = { action, since: Date.now(), state: 'sending', reason: '' };
    state.pending.set(alertId, pending);
    changed();
    const body = new URLSearchParams({ alertId, __RequestVerificationToken: token });
    fetch(`/api/alerts/${action}`, { method: 'POST', body, credentials: 'same-origin' }).then(r => {
      if (state.pending.get(alertId) !== pending) return;
      if (r.status === 202) {
        pending.state = 'waiting';
        setTimeout(() => {
          if (state.pending.get(alertId) === pending && pending.state === 'waiting') { pending.state = 'noanswer'; changed(); }
        }, NO_ANSWER_MS);
      } else if (r.status === 401) {
        sessionEnded();
      } else {
        pending.state = 'failed';
        pending.reason = `HTTP ${r.status}`;
      }
      changed();
    }, () => { pending.state = 'failed'; changed(); });
  }

  list.addEventListener('click', e => {
    const row = e.target.closest('.row');
    if (!row || !row.dataset.alertId) return;
    const button = e.target.closest('button[data-action]');
    if (button) send(row.dataset.alertId, button.dataset.action);
    else openDetails(row.dataset.alertId);
  });
  list.addEventListener('scroll', schedule, { passive: true });
  window.addEventListener('resize', schedule);
  for (const name of ['area', 'category', 'severity']) $(`filter-${name}`).addEventListener('change', changed);

  // ---- details ----------------------------------------------------------------------------------------------------
  function openDetails(alertId) {
    state.selected = alertId;
    changed();
    fetch(`/api/alerts/details?id=${encodeURIComponent(alertId)}`, { credentials: 'same-origin' }).then(r => {
      if (r.status === 401) { sessionEnded(); return null; }
      return r.ok ? r.json() : null;
    }).then(d => { if (d && state.selected === alertId) renderDetails(d); });
  }

  function renderDetails(d) {
    const a = d.alert;
    $('details').classList.remove('hidden');
    $('details-title').textContent = `${a.rule} · ${a.sensorId || a.areaId}`;
    $('details-description').textContent = a.description;
    const facts = $('details-facts');
    facts.replaceChildren();
    const add = (label, value) => facts.append(el('dt', '', label), el('dd', '', value));
    add(T.colSeverity, T[`severity_${a.severity}`] || a.severity);
    add(T.colStatus, `${T[`status_${a.status}`] || a.status} · ${T.level} ${a.level}`);
    add(T.colWhere, `${a.sensorId || '–'} · ${a.areaId}`);
    add(T.colRecipients, (a.recipients || []).join(', '));
    add(T.raisedAt, new Date(a.raisedAt).toLocaleString());
    add('id', a.id);
    const actions = $('details-actions');
    actions.replaceChildren();
    if (a.status !== 'resolved') { fillActions(actions, a); actions.dataset.alertId = a.id; }
    const evidence = $('details-evidence');
    evidence.replaceChildren(...Object.entries(a.evidence || {}).map(([k, v]) => {
      const tr = el('tr');
      tr.append(el('th', '', k), el('td', 'mono', String(v)));
      return tr;
    }));
    $('details-timeline').replaceChildren(...d.timeline.map(t => {
      const li = el('li', t.kind);
      li.append(el('time', '', new Date(t.at).toLocaleString()));
      const what = t.kind === 'record'
        ? `${T[`status_${t.status}`] || t.status} · ${T.level} ${t.level}`
        : `${T[`kind_${t.kind}`]}: ${t.action === 'ack' ? T.ack : t.action === 'resolve' ? T.resolve : ''}`;
      li.append(el('strong', '', what));
      if (t.by) li.append(el('span', '', ` ${T.by} ${t.by === 'engine' ? T.engine : t.by}`));
      if (t.description) li.append(el('div', 'muted', t.description));
      return li;
    }));
  }

  $('details-actions').addEventListener('click', e => {
    const button = e.target.closest('button[data-action]');
    if (button && state.selected) send(state.selected, button.dataset.action);
  });
  $('details-close').addEventListener('click', () => { state.selected = null; $('details').classList.add('hidden'); changed(); });
  document.addEventListener('keydown', e => { if (e.key === 'Escape' && state.selected) $('details-close').click(); });

  // ---- areas and dead letters ------------------------------------------------------------------------------------
  function renderAreas() {
    state.areasDirty = false;
    const cards = [...state.areas.entries()].sort(([x], [y]) => (x < y ? -1 : 1)).map(([areaId, metrics]) => {
      const card = el('article', 'area');
      card.append(el('h3', '', areaId));
      for (const [metric, label, kind, format, max] of METRICS) {
        const points = metrics.get(metric) || [];
        const row = el('div', 'metric');
        const last = points[points.length - 1];
        row.append(el('span', 'label', T[label]), el('span', 'value', last ? format(last.value) : T.noData));
        row.append(kind === 'bars' ? window.KommuneCharts.bars(points, T[label]) : window.KommuneCharts.line(points, T[label], max));
        card.append(row);
      }
      return card;
    });
    $('areas').replaceChildren(...cards);
  }

  function renderDeadLetters() {
    const d = state.deadLetters;
    $('dead-letter-count').textContent = d.total;
    $('dead-letter-total').textContent = d.total;
    $('dead-letter-counts').replaceChildren(...d.counts.map(c => {
      const tr = el('tr');
      tr.append(el('td', '', c.stage), el('td', '', c.code), el('td', '', c.count));
      return tr;
    }));
    $('dead-letter-latest').replaceChildren(...d.latest.map(l => {
      const tr = el('tr');
      tr.append(el('td', '', new Date(l.at).toLocaleString()), el('td', '', l.stage), el('td', '', l.reason),
        el('td', 'mono', l.sourceTopic ? `${l.sourceTopic}/${l.sourcePartition}@${l.sourceOffset}` : ''),
        el('td', 'mono', l.key ?? ''), el('td', 'mono', l.value ?? ''));
      return tr;
    }));
  }

  function renderLastRecords() {
    const now = Date.now();
    $('last-records').replaceChildren(...Object.entries(state.status.lastRecords || {}).sort().map(([topic, at]) => {
      const tr = el('tr');
      tr.append(el('th', '', topic), el('td', '', `${age(now - Date.parse(at))} ${T.ago}`));
      return tr;
    }));
  }

  // ---- tabs, sound, clock -------------------------------------------------------------------------------------------
  for (const button of document.querySelectorAll('.tabs button')) {
    button.addEventListener('click', () => {
      state.tab = button.dataset.tab;
      for (const b of document.querySelectorAll('.tabs button')) b.setAttribute('aria-selected', String(b === button));
      for (const section of document.querySelectorAll('main > section')) section.classList.toggle('hidden', section.id !== `tab-${state.tab}`);
      if (state.tab !== 'alerts' && state.selected) $('details-close').click();
      schedule();
    });
  }

  const sound = $('sound');
  sound.checked = localStorage.getItem('kommune.sound') !== 'off';
  const unlock = () => { if (!audio && window.AudioContext) audio = new AudioContext(); if (audio && audio.state === 'suspended') audio.resume(); };
  sound.addEventListener('change', () => { localStorage.setItem('kommune.sound', sound.checked ? 'on' : 'off'); unlock(); });
  document.addEventListener('click', unlock, { once: true });

  setInterval(() => { renderRows(); if (state.tab === 'deadletters') renderLastRecords(); }, 1000);
  connect();
})();
