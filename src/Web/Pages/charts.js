// Small SVG charts for the areas view, drawn without any library (the console ships every asset it uses).
(() => {
  'use strict';
  const NS = 'http://www.w3.org/2000/svg';
  const W = 300, H = 44;

  function svg() {
    const s = document.createElementNS(NS, 'svg');
    s.setAttribute('viewBox', `0 0 ${W} ${H}`);
    s.setAttribute('preserveAspectRatio', 'none');
    s.setAttribute('role', 'img');
    return s;
  }

  function scale(points, fixedMax) {
    const values = points.map(p => p.value);
    // A fixed scale (percentages) from 0; otherwise the data's own range, so a change shows.
    const low = fixedMax === undefined ? Math.min(...values) : 0;
    const high = fixedMax === undefined ? Math.max(...values) : fixedMax;
    const pad = high === low ? 1 : (high - low) * 0.1;
    const min = fixedMax === undefined ? Math.max(0, low - pad) : 0;
    const max = fixedMax === undefined ? high + pad : fixedMax;
    const span = max - min || 1;
    return v => H - 2 - ((v - min) / span) * (H - 4);
  }

  /** A line with the area under it; points are {value} oldest first. */
  function line(points, label, fixedMax) {
    const s = svg();
    s.setAttribute('aria-label', label);
    if (points.length === 0) return s;
    const y = scale(points, fixedMax);
    const step = points.length > 1 ? W / (points.length - 1) : 0;
    const xy = points.map((p, i) => `${(i * step).toFixed(1)},${y(p.value).toFixed(1)}`);
    const area = document.createElementNS(NS, 'polygon');
    area.setAttribute('points', `0,${H} ${xy.join(' ')} ${((points.length - 1) * step).toFixed(1)},${H}`);
    area.setAttribute('class', 'chart-area');
    const path = document.createElementNS(NS, 'polyline');
    path.setAttribute('points', xy.join(' '));
    path.setAttribute('class', 'chart-line');
    s.append(area, path);
    return s;
  }

  /** Bars, one per point. */
  function bars(points, label) {
    const s = svg();
    s.setAttribute('aria-label', label);
    if (points.length === 0) return s;
    const y = scale(points);
    const width = W / points.length;
    points.forEach((p, i) => {
      const bar = document.createElementNS(NS, 'rect');
      const top = y(p.value);
      bar.setAttribute('x', (i * width + 0.5).toFixed(1));
      bar.setAttribute('y', top.toFixed(1));
      bar.setAttribute('width', Math.max(1, width - 1).toFixed(1));
      bar.setAttribute('height', Math.max(0.5, H - top).toFixed(1));
      bar.setAttribute('class', 'chart-bar');
      s.append(bar);
    });
    return s;
  }

  window.KommuneCharts = { line, bars };
})();
