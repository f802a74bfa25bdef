// borderwatch: the live picture. Everything comes from this worker (streams/web/picture.py).
'use strict';
(function () {
  const IMPACTS = ['low', 'medium', 'high', 'very_high'];
  const IMPACT_LABEL = { low: 'Low', medium: 'Medium', high: 'High', very_high: 'Very high' };
  const SHAPE_LABEL = { low: 'circle', medium: 'square', high: 'triangle', very_high: 'diamond' };
  // Okabe-Ito colours (safe for the common colour-vision deficiencies), and a shape per impact.
  const IMPACT_COLOUR = { low: '#56B4E9', medium: '#F0E442', high: '#E69F00', very_high: '#D55E00' };
  const KINDS = ['surge', 'mass_attempt', 'ais_gap', 'loitering', 'encounter', 'implausible_speed',
    'geofence_enter', 'geofence_exit', 'geofence_cross', 'vessel_of_interest'];
  const BLUES = ['#f7fbff', '#c6dbef', '#6baed6', '#2171b5', '#08306b']; // ColorBrewer Blues
  const SERIES = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#999933'];
  const SVG = 'http://www.w3.org/2000/svg';
  const SPANS = { '6h': 6 * 3600e3, '24h': 24 * 3600e3, '7d': 7 * 86400e3 };

  const state = {
    me: null, span: '24h', mode: 'live', start: null, end: null, extent: null,
    offset: 0, limit: 25, selected: null, situation: null, base: null, names: {},
    refreshing: false, again: false, healthAt: 0,
  };
  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') node.className = v; else if (k === 'text') node.textContent = v; else node.setAttribute(k, v);
    }
    for (const child of children) node.append(child);
    return node;
  }

  function shape(impact, size) {
    const svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('viewBox', '0 0 20 20');
    svg.setAttribute('width', size);
    svg.setAttribute('height', size);
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('class', 'shape impact-' + impact);
    let path;
    if (impact === 'low') {
      path = document.createElementNS(SVG, 'circle');
      path.setAttribute('cx', '10'); path.setAttribute('cy', '10'); path.setAttribute('r', '7');
    } else {
      path = document.createElementNS(SVG, 'path');
      const d = { medium: 'M3 3H17V17H3Z', high: 'M10 2L18.5 17.5H1.5Z', very_high: 'M10 1L19 10L10 19L1 10Z' };
      path.setAttribute('d', d[impact] || d.medium);
    }
    path.setAttribute('fill', IMPACT_COLOUR[impact]);
    path.setAttribute('stroke', '#111');
    path.setAttribute('stroke-width', '1.5');
    svg.append(path);
    return svg;
  }

  const when = (iso) => iso ? iso.replace('T', ' ').replace(/:\d\d(\.\d+)?(\+00:00|Z)$/, '') + ' UTC' : '–';
  const num = (n) => (n === null || n === undefined) ? '–' : Number(n).toLocaleString('en-GB');
  const hours = (s) => (s === null || s === undefined) ? '–' : (s < 3600 ? Math.round(s / 60) + ' min' : (s < 172800 ? (s / 3600).toFixed(1) + ' h' : (s / 86400).toFixed(1) + ' d'));
  const pct = (x) => (x === null || x === undefined) ? '–' : (100 * x).toFixed(1) + ' %';

  async function getJSON(url) {
    const response = await fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
    if (response.status === 401) { window.location.assign('/'); throw new Error('signed out'); }
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || ('HTTP ' + response.status));
    return body;
  }

  async function post(url, body) {
    const headers = { 'X-CSRF-Token': state.me.csrf, Accept: 'application/json' };
    const init = { method: 'POST', credentials: 'same-origin', headers: headers };
    if (body !== undefined) { headers['Content-Type'] = 'application/json'; init.body = JSON.stringify(body); }
    const response = await fetch(url, init);
    let answer = {};
    try { answer = await response.json(); } catch (e) { answer = {}; }
    return { ok: response.ok, status: response.status, body: answer };
  }

  function table(node, headers, rows) {
    node.replaceChildren();
    const caption = node.getAttribute('data-caption');
    if (caption) node.append(el('caption', { class: 'sr', text: caption }));
    const head = el('tr');
    for (const h of headers) head.append(el('th', { scope: 'col', text: h }));
    node.append(el('thead', {}, head));
    const body = el('tbody');
    for (const row of rows) {
      const tr = el('tr');
      row.forEach((cell, i) => tr.append(i === 0 ? el('th', { scope: 'row' }, cell) : el('td', {}, cell)));
      body.append(tr);
    }
    if (!rows.length) body.append(el('tr', {}, el('td', { colspan: String(headers.length), text: 'none' })));
    node.append(body);
  }

  // ---- the map -------------------------------------------------------------------------------------
  let map, crossingLayer, routeLayer, alertLayer, trackLayer, selectedLayer;
  const crossingPaths = {};
  const routePaths = {};
  const centres = {};

  function drawBase(base) {
    map = L.map('map', { zoomSnap: 0.5, keyboard: true, attributionControl: true, worldCopyJump: false });
    map.attributionControl.setPrefix('Leaflet');
    map.attributionControl.addAttribution('© OpenStreetMap contributors (ODbL)');
    L.geoJSON(base.countries, { style: { className: 'land', color: '#8a8a8a', weight: 1, fillColor: '#e8e4d8', fillOpacity: 1 }, interactive: false }).addTo(map);
    routeLayer = L.geoJSON(base.routes, {
      style: { className: 'route', color: '#6b6b6b', weight: 1.5, dashArray: '4 4', fill: false },
      onEachFeature: (f, layer) => {
        routePaths[f.properties.id] = layer;
        state.names[f.properties.id] = f.properties.name;
        layer.bindTooltip(f.properties.name, { sticky: true });
      },
    }).addTo(map);
    crossingLayer = L.geoJSON(base.crossings, {
      style: { className: 'crossing', color: '#444', weight: 1, fillColor: BLUES[0], fillOpacity: 0.85 },
      onEachFeature: (f, layer) => {
        crossingPaths[f.properties.id] = layer;
        state.names[f.properties.id] = f.properties.name;
        centres[f.properties.id] = layer.getBounds().getCenter();
        layer.on('add', () => {
          const path = layer.getElement();
          if (path) { path.setAttribute('data-crossing', f.properties.id); path.setAttribute('aria-label', f.properties.name); }
        });
        layer.on('click', () => { $('f-zone').value = f.properties.id; state.offset = 0; refresh(); });
      },
    }).addTo(map);
    L.geoJSON(base.ports, {
      pointToLayer: (f, latlng) => L.circleMarker(latlng, { radius: 2, className: 'port', color: '#555', weight: 1, fillColor: '#fff', fillOpacity: 1, interactive: false }),
    }).addTo(map);
    trackLayer = L.layerGroup().addTo(map);
    selectedLayer = L.layerGroup().addTo(map);
    alertLayer = L.layerGroup().addTo(map);
    map.fitBounds(crossingLayer.getBounds(), { padding: [10, 10] });
    for (const f of base.crossings.features) {
      const o = el('option', { value: f.properties.id, text: f.properties.name });
      $('f-zone').append(o);
    }
    table($('t-countries'), ['country', 'id'], base.countries.features.map((f) => [f.properties.name, f.properties.id]));
    table($('t-ports'), ['port', 'UN/LOCODE', 'lat, lon'], base.ports.features.map((f) => [f.properties.name, f.properties.id, f.geometry.coordinates[1].toFixed(3) + ', ' + f.geometry.coordinates[0].toFixed(3)]));
    drawLegend();
  }

  function drawLegend() {
    const legend = $('legend');
    legend.replaceChildren(el('h3', { text: 'Persons in the window' }));
    const ramp = el('ul', { class: 'ramp' });
    ['0', 'few', '', '', 'most'].forEach((label, i) => ramp.append(el('li', { class: 'q' + i }, el('span', { class: 'swatch q' + i }), label)));
    legend.append(ramp, el('h3', { text: 'Alert impact' }));
    const impacts = el('ul');
    for (const impact of IMPACTS.slice().reverse()) impacts.append(el('li', {}, shape(impact, 14), ' ' + IMPACT_LABEL[impact]));
    legend.append(impacts, el('h3', { text: 'Vessel tracks' }));
    legend.append(el('ul', {}, el('li', {}, el('span', { class: 'line lit' }), ' reporting'), el('li', {}, el('span', { class: 'line dark' }), ' dark (AIS gap)')));
    legend.append(el('p', { text: 'Thick outline: the highest impact of the section\'s open alerts' }));
  }

  function quantile(persons, max) {
    if (!persons) return 0;
    return Math.max(1, Math.min(4, Math.ceil(4 * Math.log1p(persons) / Math.log1p(max))));
  }

  function drawSituation(s) {
    const persons = {};
    for (const row of s.crossings) persons[row.crossing_id] = Number(row.persons);
    const max = Math.max(1, ...Object.values(persons));
    for (const [id, layer] of Object.entries(crossingPaths)) {
      const impact = s.sections.zones[id];
      layer.setStyle({
        fillColor: BLUES[quantile(persons[id] || 0, max)],
        color: impact ? IMPACT_COLOUR[impact] : '#444',
        weight: impact ? 4 : 1,
      });
      layer.bindTooltip(state.names[id] + ': ' + num(persons[id] || 0) + ' persons' + (impact ? ', open alerts up to ' + IMPACT_LABEL[impact] : ''));
    }
    for (const [id, layer] of Object.entries(routePaths)) {
      const impact = s.sections.routes[id];
      layer.setStyle({ color: impact ? IMPACT_COLOUR[impact] : '#6b6b6b', weight: impact ? 3.5 : 1.5 });
    }
    alertLayer.clearLayers();
    for (const alert of s.alerts.slice().reverse()) {
      const at = (alert.lat !== null && alert.lon !== null) ? L.latLng(alert.lat, alert.lon) : centres[alert.zone_id];
      if (!at) continue;
      const holder = el('div', { class: 'marker', 'data-alert': alert.id });
      holder.append(shape(alert.impact, 22));
      const marker = L.marker(at, {
        icon: L.divIcon({ html: holder, className: 'alert-icon', iconSize: [22, 22] }),
        keyboard: true, title: IMPACT_LABEL[alert.impact] + ' ' + alert.kind + ': ' + alert.headline,
        alt: IMPACT_LABEL[alert.impact] + ' ' + alert.kind, riseOnHover: true,
        zIndexOffset: 100 * IMPACTS.indexOf(alert.impact),
      });
      marker.on('click', () => showAlert(alert.id));
      alertLayer.addLayer(marker);
    }
    drawTracks(trackLayer, s.tracks);
  }

  function drawTracks(layer, tracks) {
    layer.clearLayers();
    for (const track of tracks) {
      for (const stretch of track.stretches) {
        const line = L.polyline(stretch.points, {
          className: stretch.dark ? 'track dark' : 'track', color: stretch.dark ? '#111' : '#7a1f5c',
          weight: stretch.dark ? 2.5 : 2, dashArray: stretch.dark ? '6 6' : null,
        }).bindTooltip(track.vessel + (stretch.dark ? ': dark from ' + when(stretch.start) + ' to ' + when(stretch.end) : ''));
        line.on('add', () => { const path = line.getElement(); if (path) path.setAttribute('data-vessel', track.vessel); });
        line.addTo(layer);
      }
    }
  }

  // ---- lists, tables, charts -----------------------------------------------------------------------
  function drawAlerts(s) {
    const list = $('alerts');
    list.replaceChildren();
    for (const alert of s.alerts) {
      const button = el('button', { type: 'button', class: 'alert-item', 'data-id': alert.id, 'data-impact': alert.impact });
      button.append(shape(alert.impact, 18), el('span', { class: 'impact', text: IMPACT_LABEL[alert.impact] }),
        el('span', { class: 'kind', text: alert.kind.replace(/_/g, ' ') }),
        el('span', { class: 'status status-' + alert.status, text: alert.status }),
        el('span', { class: 'zone', text: state.names[alert.zone_id] || alert.zone_id || alert.vessel_ids.join(', ') }),
        el('span', { class: 'headline', text: alert.headline }),
        el('span', { class: 'time', text: when(alert.window_end) }));
      button.addEventListener('click', () => showAlert(alert.id));
      list.append(el('li', {}, button));
    }
    if (!s.alerts.length) list.append(el('li', { class: 'empty', text: 'No alerts in this window.' }));
    const page = s.alerts_page;
    $('alerts-count').textContent = '(' + num(page.total) + ')';
    $('page').textContent = page.total ? (page.offset + 1) + '–' + (page.offset + s.alerts.length) + ' of ' + page.total : '';
    $('prev').disabled = page.offset === 0;
    $('next').disabled = page.offset + s.alerts.length >= page.total;
    const totals = $('totals');
    totals.replaceChildren(el('dt', { text: 'Persons' }), el('dd', { id: 'total-persons', text: num(s.totals.persons) }),
      el('dt', { text: 'Reports' }), el('dd', { id: 'total-reports', text: num(s.totals.reports) }),
      el('dt', { text: 'Alerts' }), el('dd', { text: num(s.totals.alerts) }));
  }

  function drawTables(s) {
    const persons = {};
    for (const row of s.crossings) persons[row.crossing_id] = row;
    table($('t-crossings'), ['crossing', 'id', 'route', 'persons', 'reports', 'highest open impact'],
      state.base.crossings.features.map((f) => {
        const id = f.properties.id;
        return [f.properties.name, id, f.properties.route, num(persons[id] ? persons[id].persons : 0), num(persons[id] ? persons[id].reports : 0), IMPACT_LABEL[s.sections.zones[id]] || 'none'];
      }));
    table($('t-routes'), ['route area', 'highest open impact'], state.base.routes.features.map((f) => [f.properties.name, IMPACT_LABEL[s.sections.routes[f.properties.id]] || 'none']));
    table($('t-alerts'), ['alert', 'impact (shape)', 'kind', 'status', 'where', 'window'], s.alerts.map((a) => [
      a.headline, IMPACT_LABEL[a.impact] + ' (' + SHAPE_LABEL[a.impact] + ')', a.kind, a.status,
      (a.lat !== null ? a.lat.toFixed(3) + ', ' + a.lon.toFixed(3) : state.names[a.zone_id] || a.zone_id), when(a.window_start) + ' – ' + when(a.window_end)]));
    const rows = [];
    for (const t of s.tracks.concat(state.selectedTracks || [])) for (const st of t.stretches) rows.push([t.vessel, st.dark ? 'dark (no position)' : 'reporting', when(st.start), when(st.end), String(st.points.length)]);
    table($('t-tracks'), ['vessel', 'stretch', 'from', 'to', 'points'], rows);
  }

  function chart(node, rows, key, names, bucketS) {
    node.replaceChildren();
    const width = 560, height = 190, left = 48, bottom = 22, top = 8;
    const times = [...new Set(rows.map((r) => r.t))].sort();
    const keys = [...new Set(rows.map((r) => r[key]))];
    if (!times.length) { node.append(el('p', { class: 'note', text: 'No reports in this window.' })); return; }
    const t0 = Date.parse(times[0]), t1 = Math.max(Date.parse(times[times.length - 1]), t0 + bucketS * 1000);
    const max = Math.max(1, ...rows.map((r) => Number(r.persons)));
    const x = (t) => left + (width - left - 8) * (Date.parse(t) - t0) / (t1 - t0);
    const y = (v) => top + (height - top - bottom) * (1 - v / max);
    const svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('viewBox', '0 0 ' + width + ' ' + height);
    svg.setAttribute('role', 'img');
    svg.setAttribute('class', 'chart-svg');
    const text = (tx, ty, s, anchor) => { const n = document.createElementNS(SVG, 'text'); n.setAttribute('x', tx); n.setAttribute('y', ty); n.setAttribute('text-anchor', anchor || 'start'); n.textContent = s; svg.append(n); };
    const axis = document.createElementNS(SVG, 'path');
    axis.setAttribute('d', `M${left} ${top}V${height - bottom}H${width - 8}`);
    axis.setAttribute('class', 'axis');
    svg.append(axis);
    text(left - 4, top + 10, num(max), 'end');
    text(left - 4, height - bottom, '0', 'end');
    text(left, height - 4, when(times[0]));
    text(width - 8, height - 4, when(times[times.length - 1]), 'end');
    const summary = [];
    keys.forEach((k, i) => {
      const points = rows.filter((r) => r[key] === k).map((r) => [x(r.t), y(Number(r.persons))]);
      const line = document.createElementNS(SVG, 'polyline');
      line.setAttribute('points', points.map((p) => p.join(',')).join(' '));
      line.setAttribute('fill', 'none');
      line.setAttribute('stroke', SERIES[i % SERIES.length]);
      line.setAttribute('stroke-width', '2');
      svg.append(line);
      summary.push((names[k] || k) + ' ' + num(rows.filter((r) => r[key] === k).reduce((a, r) => a + Number(r.persons), 0)));
    });
    svg.setAttribute('aria-label', 'Persons per ' + (bucketS >= 86400 ? 'day' : bucketS >= 3600 ? (bucketS / 3600) + ' h' : (bucketS / 60) + ' min') + ': ' + summary.join(', '));
    const legend = el('ul', { class: 'series' });
    keys.forEach((k, i) => legend.append(el('li', {}, el('span', { class: 'swatch s' + (i % SERIES.length) }), names[k] || k)));
    node.append(svg, legend);
  }

  function drawHealth(h) {
    $('health-note').textContent = 'Reports received in the last ' + Math.round(h.span_s / 86400) + ' days (back from the newest receipt). Lag: observed_at to received.';
    table($('health'), ['authority', 'reports', 'last received', 'lag p50', 'lag p95', 'past 24 h', 'rejected', 'top reasons'],
      h.authorities.map((a) => [a.authority || '(unreadable)', num(a.reports), when(a.last_received), hours(a.lag_p50_s), hours(a.lag_p95_s), pct(a.late_share),
        pct(a.rejection_rate) + ' (' + num(a.rejected) + ')', a.reasons.map((r) => r.reason + ' ' + r.count).join(', ') || '–']));
  }

  // ---- one alert -----------------------------------------------------------------------------------
  async function showAlert(id) {
    state.selected = id;
    const panel = $('detail');
    let d;
    try { d = await getJSON('/picture/alert?id=' + encodeURIComponent(id)); } catch (e) { $('detail-body').textContent = String(e.message); panel.hidden = false; return; }
    const a = d.alert;
    $('detail-title').replaceChildren(shape(a.impact, 20), ' ' + a.headline);
    const facts = el('dl', { class: 'facts' });
    const add = (k, v) => facts.append(el('dt', { text: k }), el('dd', { text: v }));
    add('Impact', IMPACT_LABEL[a.impact] + ' (' + SHAPE_LABEL[a.impact] + ')');
    add('Kind', a.kind.replace(/_/g, ' '));
    add('Status', a.status + ', version ' + a.version);
    add('Confidence', pct(a.confidence));
    add('Where', (state.names[a.zone_id] || a.zone_id || 'at sea') + (a.route ? ', ' + a.route : ''));
    add('Window (event time)', when(a.window_start) + ' – ' + when(a.window_end));
    add('Vessels', a.vessel_ids.join(', ') || '–');
    const reasons = el('div', { class: 'reasons' }, el('h3', { text: 'Why' }), el('p', { id: 'reasons', text: a.description }));
    const evidence = el('table', { id: 'evidence' });
    table(evidence, ['report', 'observed', 'received', 'where', 'type', 'persons'], d.evidence.map((e) => [e.authority + ':' + e.report_id, when(e.observed_at), when(e.received_at), state.names[e.crossing_id] || e.crossing_id, e.incident_type || e.kind, num(e.persons)]));
    const versions = el('table', { id: 'versions' });
    table(versions, ['version', 'status', 'impact', 'confidence', 'sent', 'headline'], d.versions.map((v) => [String(v.version), v.status, IMPACT_LABEL[v.impact], pct(v.confidence), when(v.sent_at), v.headline]));
    $('detail-body').replaceChildren(facts, reasons,
      el('h3', { text: 'Evidence (' + d.evidence.length + ' of ' + d.evidence_total + ' reports)' }), el('div', { class: 'scroll' }, evidence),
      el('h3', { text: 'Versions' }), el('div', { class: 'scroll' }, versions));
    drawTracks(selectedLayer, d.tracks);
    if (d.tracks.length) map.fitBounds(L.featureGroup(selectedLayer.getLayers()).getBounds(), { padding: [40, 40], maxZoom: 10 });
    else if (a.lat !== null && a.lon !== null) map.setView([a.lat, a.lon], Math.max(map.getZoom(), 7));
    state.selectedTracks = d.tracks;
    if (state.situation) drawTables(state.situation);
    $('cap-link').href = '/picture/cap?id=' + encodeURIComponent(a.id);
    $('ack').hidden = !state.me.may_act;
    $('silence-form').hidden = !state.me.may_act;
    state.selectedAlert = a;
    $('ack-result').textContent = '';
    panel.hidden = false;
    panel.focus();
  }

  // ---- the window and refreshing ---------------------------------------------------------------------
  function situationUrl(pulse) {
    const q = new URLSearchParams();
    if (state.mode === 'live') q.set('span', state.span);
    else { q.set('start', new Date(state.start).toISOString()); q.set('end', new Date(state.end).toISOString()); }
    for (const [name, id] of [['kind', 'f-kind'], ['impact', 'f-impact'], ['zone', 'f-zone'], ['status', 'f-status']]) if ($(id).value) q.set(name, $(id).value);
    q.set('offset', state.offset); q.set('limit', state.limit);
    if (pulse) q.set('pulse', pulse);  // a refresh a pulse caused: the worker answers every page once per pulse
    return '/picture/situation?' + q.toString();
  }

  async function refresh(pulse) {
    if (state.refreshing) { state.again = true; return; }
    state.refreshing = true;
    try {
      const s = await getJSON(situationUrl(typeof pulse === 'string' ? pulse : ''));
      state.situation = s;
      state.extent = s.extent;
      $('now').textContent = when(s.extent.newest);
      $('window-label').textContent = 'Showing ' + when(s.window.start) + ' – ' + when(s.window.end) + (state.mode === 'live' ? ' (following live)' : ' (replay)');
      const slider = $('slider');
      if (s.extent.first) {
        slider.min = String(Math.floor(Date.parse(s.extent.first) / 60000));
        slider.max = String(Math.ceil(Date.parse(s.extent.newest) / 60000) + 1);
        slider.step = '1';
        if (state.mode === 'live') slider.value = slider.max;
        $('slider-time').textContent = when(s.window.end);
      }
      drawSituation(s); drawAlerts(s); drawTables(s);
      chart($('chart-routes'), s.series.routes, 'route', state.names, s.series.bucket_s);
      chart($('chart-crossings'), s.series.crossings, 'crossing_id', state.names, s.series.bucket_s);
      document.body.setAttribute('data-refreshed', String(Date.now()));
      if (!state.painted) { state.painted = true; performance.mark('picture-first-paint'); }  // scripts/bench_picture.py
    } catch (e) {
      $('window-label').textContent = 'Could not load the situation: ' + e.message;
    } finally {
      state.refreshing = false;
      if (state.again) { state.again = false; refresh(); }
    }
    if (Date.now() - state.healthAt > 30000) {
      state.healthAt = Date.now();
      getJSON('/picture/health').then(drawHealth).catch((e) => { $('health-note').textContent = 'Reporting health: ' + e.message; });
    }
  }

  function goLive() {
    state.mode = 'live'; state.offset = 0;
    $('live').setAttribute('aria-pressed', 'true');
    refresh();
  }

  function replayTo(endMs) {
    const span = SPANS[state.span] || (state.end - state.start) || SPANS['24h'];
    state.mode = 'replay'; state.end = endMs; state.start = endMs - span; state.offset = 0;
    $('live').setAttribute('aria-pressed', 'false');
    refresh();
  }

  function wire() {
    for (const kind of KINDS) $('f-kind').append(el('option', { value: kind, text: kind.replace(/_/g, ' ') }));
    for (const impact of IMPACTS.slice().reverse()) $('f-impact').append(el('option', { value: impact, text: IMPACT_LABEL[impact] }));
    for (const id of ['f-kind', 'f-impact', 'f-zone', 'f-status']) $(id).addEventListener('change', () => { state.offset = 0; refresh(); });
    $('span').addEventListener('change', () => {
      const value = $('span').value;
      $('custom').hidden = value !== 'custom';
      if (value === 'custom') return;
      state.span = value;
      if (state.mode === 'live') goLive(); else replayTo(state.end);
    });
    $('apply').addEventListener('click', () => {
      const from = Date.parse($('from').value + 'Z'), to = Date.parse($('to').value + 'Z');
      if (!(to > from)) { $('window-label').textContent = 'Give a start before the end.'; return; }
      state.mode = 'custom'; state.start = from; state.end = to; state.offset = 0;
      $('live').setAttribute('aria-pressed', 'false');
      refresh();
    });
    let timer = null;
    $('slider').addEventListener('input', () => {
      const endMs = Number($('slider').value) * 60000;
      $('slider-time').textContent = when(new Date(endMs).toISOString());
      clearTimeout(timer);
      timer = setTimeout(() => replayTo(endMs), 250);
    });
    $('live').addEventListener('click', goLive);
    $('prev').addEventListener('click', () => { state.offset = Math.max(0, state.offset - state.limit); refresh(); });
    $('next').addEventListener('click', () => { state.offset += state.limit; refresh(); });
    $('close-detail').addEventListener('click', () => { $('detail').hidden = true; state.selected = null; state.selectedTracks = []; selectedLayer.clearLayers(); });
    $('ack').addEventListener('click', async () => {
      const result = await post('/alerts/' + encodeURIComponent(state.selected) + '/ack', {});
      $('ack-result').textContent = result.ok ? 'Acknowledged.' : 'Not acknowledged: ' + (result.body.error || ('HTTP ' + result.status));
      if (result.ok) refresh();
    });
    $('silence').addEventListener('click', async () => {
      const a = state.selectedAlert;
      const reason = $('silence-reason').value.trim();
      if (!a) return;
      if (!reason) { $('ack-result').textContent = 'Say why before silencing.'; return; }
      const until = new Date(Date.now() + Number($('silence-hours').value) * 3600e3).toISOString();
      const result = await post('/silences', { kind: a.kind, zone_id: a.zone_id || '', until: until, reason: reason });
      $('ack-result').textContent = result.ok ? 'Silenced until ' + when(until) + '.' : 'Not silenced: ' + (result.body.error || ('HTTP ' + result.status));
      if (result.ok) refresh();
    });
    $('signout').addEventListener('click', async () => { await post('/signout'); window.location.assign('/'); });
  }

  function listen() {
    const source = new EventSource('/events');
    source.addEventListener('open', () => { $('live-status').textContent = 'live'; $('live-dot').className = 'dot on'; });
    source.addEventListener('error', () => {
      $('live-status').textContent = 'reconnecting…'; $('live-dot').className = 'dot';
      // A refused stream (the session ended: signed out, expired or its token revoked) is not retried by
      // the browser; asking who we are shows the sign-in on a 401.
      if (source.readyState === EventSource.CLOSED) getJSON('/picture/me').then(() => setTimeout(listen, 5000)).catch(() => {});
    });
    let last = null;
    source.addEventListener('pulse', (event) => {
      $('live-status').textContent = 'live'; $('live-dot').className = 'dot on';
      if (last !== null && event.data !== last && state.mode === 'live') refresh(event.lastEventId);
      if (last !== null && event.data !== last && state.mode !== 'live') state.healthAt = 0;
      last = event.data;
    });
  }

  async function start() {
    state.me = await getJSON('/picture/me');
    $('who').textContent = state.me.name + ' (' + state.me.roles.join(', ') + ')';
    document.body.setAttribute('data-may-act', String(state.me.may_act));
    state.base = await getJSON('/picture/map');
    drawBase(state.base);
    wire();
    await refresh();
    listen();
  }

  document.addEventListener('DOMContentLoaded', () => { start().catch((e) => { $('window-label').textContent = 'The picture could not start: ' + e.message; }); });
}());
