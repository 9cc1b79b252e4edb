// The citizens' page: free parking and congestion per area from the public API, refreshed every 30 seconds.
(() => {
  'use strict';
  const T = JSON.parse(document.getElementById('texts').textContent);
  const main = document.getElementById('areas');
  const find = document.getElementById('find');
  let areas = [];

  function el(tag, className, text) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function line(label, value, valueClass) {
    const row = el('div', 'line');
    row.append(el('span', 'muted', label), el('span', valueClass, value));
    return row;
  }

  function card(area) {
    const c = el('article', 'card');
    c.dataset.areaId = area.areaId;
    c.append(el('h2', '', area.areaId));
    if (area.parking) {
      const p = area.parking;
      c.append(line(T.parkingFree, p.full ? T.parkingFull : `${p.freeSpaces} ${T.free}`, p.full ? 'state full' : 'big'));
      c.append(line(T.occupancy, `${Math.round(p.occupancyPercent)} %`, ''));
    } else {
      c.append(line(T.parkingFree, T.parkingUnknown, 'state unknown'));
    }
    if (area.traffic) {
      const t = area.traffic;
      c.append(line(T.traffic, t.state === 'congested' ? T.trafficCongested : T.trafficNormal, `state ${t.state}`));
      if (t.meanSpeedKmh !== undefined && t.meanSpeedKmh !== null) c.append(line(T.meanSpeed, `${Math.round(t.meanSpeedKmh)} ${T.kmh}`, ''));
    } else {
      c.append(line(T.traffic, T.trafficUnknown, 'state unknown'));
    }
    return c;
  }

  function render() {
    const q = find.value.trim().toLowerCase();
    main.replaceChildren(...areas.filter(a => !q || a.areaId.toLowerCase().includes(q)).map(card));
  }

  function load() {
    fetch('/api/public/v1/areas').then(r => (r.ok ? r.json() : Promise.reject(r.status))).then(data => {
      areas = data.areas;
      document.getElementById('updated').textContent = `${T.updated} ${new Date(data.generated).toLocaleTimeString()}`;
      render();
    }, () => { document.getElementById('updated').textContent = T.unavailable; });
  }

  find.addEventListener('input', render);
  load();
  setInterval(load, 30000);
})();
