// kindred map: points drawn by a small software rasteriser into one ImageData per frame (with a
// depth buffer in 3-D), thumbnails from sprite atlases once few enough points are on screen.
// Writing pixels from typed arrays keeps 100k points at a few milliseconds a frame without
// WebGL, which headless and GPU-less machines may lack. Everything the page needs is in
// #kindred-data; nothing is fetched.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("kindred-data").textContent);
  const n = data.count, dims = data.dims;

  // The browser's own base64 decoder where it has one (Chromium 140 and later, Firefox 133): at a
  // million points it takes ~0.5 s off the first render that atob and a loop over its string spend.
  function decode(base64, Type) {
    if (typeof Uint8Array.fromBase64 === "function") return new Type(Uint8Array.fromBase64(base64).buffer);
    const text = atob(base64), bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    return new Type(bytes.buffer);
  }
  const coords = decode(data.coords, Float32Array);
  const labels = decode(data.labels, Int32Array);
  const dirOf = decode(data.dirOf, Int32Array);
  const neighbours = decode(data.neighbours, Int32Array); // n × data.neighbourCount rows, −1 padded
  // Large maps keep thumbnails for a spread of items only: each item's slot in the atlases, or −1.
  // Why each neighbour matches (present when kindred map could read the stored vectors): the
  // fused score's terms in ten-thousandths, one per neighbour slot, and the differing hash bits
  // (a map made before the region term has none: it counts as 0).
  const match = data.match ? {
    cnn: decode(data.match.cnn, Int16Array), style: decode(data.match.style, Int16Array),
    phash: decode(data.match.phash, Int16Array), bits: decode(data.match.bits, Uint8Array),
    region: data.match.region ? decode(data.match.region, Int16Array) : null,
  } : null;
  const thumbnailOf = data.thumbnailOf ? decode(data.thumbnailOf, Int32Array) : null;
  const slotOf = (i) => (thumbnailOf ? thumbnailOf[i] : i);
  const pathOf = (i) => data.dirs[dirOf[i]] + "/" + data.names[i];

  // Centre the view on the box holding the middle 98 % of each axis, and scale that box to fill
  // it: UMAP places small disconnected groups far out, and fitting those would shrink the rest
  // to a dot. "Fit all" zooms out to every point.
  const centre = new Float64Array(dims);
  let bulkRadius = 1e-9, fullRadius = 1e-9;
  const column = new Float32Array(n);
  for (let d = 0; d < dims && n > 0; d++) {
    for (let i = 0; i < n; i++) column[i] = coords[i * dims + d];
    column.sort();
    const lo = column[Math.floor(0.01 * (n - 1))], hi = column[Math.ceil(0.99 * (n - 1))];
    centre[d] = (lo + hi) / 2;
    bulkRadius = Math.max(bulkRadius, 0.55 * (hi - lo));
    fullRadius = Math.max(fullRadius, centre[d] - column[0], column[n - 1] - centre[d]);
  }
  const fitAllZoom = Math.min(1, bulkRadius / fullRadius * 0.98);
  const unit = new Float32Array(n * dims);
  for (let i = 0; i < n * dims; i++) unit[i] = (coords[i] - centre[i % dims]) / bulkRadius;

  // Colours: clusters by golden-angle hues, noise grey. Packed as ABGR for a little-endian Uint32 view.
  const clusterIndex = new Map(data.clusters.map((c, k) => [c.id, k]));
  function hsl(h, s, l) {
    const a = s * Math.min(l, 1 - l);
    const f = (k) => { const m = (k + h / 30) % 12; return Math.round(255 * (l - a * Math.max(-1, Math.min(m - 3, 9 - m, 1)))); };
    return [f(0), f(8), f(4)];
  }
  const clusterRGB = data.clusters.map((_, k) => hsl((k * 137.508) % 360, 0.7, k % 2 ? 0.62 : 0.55));
  const noiseRGB = [120, 124, 132];
  const rgbOf = (i) => (labels[i] < 0 ? noiseRGB : clusterRGB[clusterIndex.get(labels[i])]) || noiseRGB;
  const css = (rgb) => `rgb(${rgb[0]},${rgb[1]},${rgb[2]})`;
  const packed = new Uint32Array(n);
  for (let i = 0; i < n; i++) { const c = rgbOf(i); packed[i] = (255 << 24) | (c[2] << 16) | (c[1] << 8) | c[0]; }

  // What is shown: cluster filter, noise toggle, search.
  const hiddenClusters = new Set();
  let showNoise = true, query = "", matches = null;
  const visible = new Uint8Array(n);
  let visibleCount = n;
  function updateVisibility() {
    visibleCount = 0;
    for (let i = 0; i < n; i++) {
      const l = labels[i];
      visible[i] = (l < 0 ? showNoise : !hiddenClusters.has(l)) && (matches === null || matches.has(i)) ? 1 : 0;
      visibleCount += visible[i];
    }
    if (grid) grid.summarise();
    motionDrawn = null;
  }

  // Level of detail for large 2-D maps. Points are bucketed once into a G × G grid over the map
  // (a counting sort: each cell's points are one run of `order`). A frame then touches only the
  // cells on screen: when they hold more than `pointBudget` visible points, each cell is drawn as
  // one block in its commonest visible cluster's colour, brighter where denser (the density view
  // far out); otherwise the points of those cells are drawn one by one, then their thumbnails.
  const lodAbove = data.lodAbove ?? 200000, pointBudget = data.pointBudget ?? 250000;
  let lodDensity = false, lodSpread = false;
  const grid = dims === 2 && n > lodAbove ? makeGrid(512) : null;

  // Level of detail for large 3-D maps: while the view turns, pans or zooms, a frame draws the
  // first `pointBudget` visible points of a fixed shuffle (a spread over the whole map, the same
  // points every frame, so nothing flickers); once input has been still for `settleMs`, every
  // point is drawn again. A shuffle, not every k-th row, because rows come in folder order.
  const spread = dims === 3 && n > lodAbove ? shuffled(n, 0x9e3779b9) : null;
  const settleMs = 180;
  let moving = false, settleTimer = 0, motionDrawn = null;
  function shuffled(count, seed) {
    const order = new Int32Array(count);
    for (let i = 0; i < count; i++) order[i] = i;
    let state = seed >>> 0;
    for (let i = count - 1; i > 0; i--) {
      state ^= state << 13; state ^= state >>> 17; state ^= state << 5;  // xorshift32
      const j = (state >>> 0) % (i + 1), t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    return order;
  }
  // Called by every input that moves the view.
  function viewMoved() {
    dirty = true;
    if (!spread) return;
    moving = true;
    clearTimeout(settleTimer);
    settleTimer = setTimeout(() => { moving = false; dirty = true; }, settleMs);
  }
  // The points a moving 3-D frame draws: the spread's first `pointBudget` visible ones, in row
  // order, so that a frame reads the per-point arrays in order (in the shuffle's order each point
  // was a handful of cache misses: 80 ms a frame for 250,000 points, against 25 sorted).
  function motionList() {
    if (motionDrawn) return motionDrawn;
    const out = new Int32Array(Math.min(pointBudget, visibleCount));
    let k = 0;
    for (let r = 0; r < n && k < out.length; r++) if (visible[spread[r]]) out[k++] = spread[r];
    motionDrawn = out.subarray(0, k).sort();
    return motionDrawn;
  }
  function makeGrid(G) {
    let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    for (let i = 0; i < n; i++) {
      const x = unit[2 * i], y = unit[2 * i + 1];
      if (x < minX) minX = x; if (x > maxX) maxX = x; if (y < minY) minY = y; if (y > maxY) maxY = y;
    }
    const cellW = Math.max((maxX - minX) / G, 1e-9), cellH = Math.max((maxY - minY) / G, 1e-9);
    const cellOfPoint = new Int32Array(n), start = new Uint32Array(G * G + 1);
    for (let i = 0; i < n; i++) {
      const cx = Math.min(G - 1, Math.floor((unit[2 * i] - minX) / cellW));
      const cy = Math.min(G - 1, Math.floor((unit[2 * i + 1] - minY) / cellH));
      cellOfPoint[i] = cy * G + cx;
      start[cy * G + cx + 1]++;
    }
    for (let c = 0; c < G * G; c++) start[c + 1] += start[c];
    const order = new Int32Array(n), fill = start.slice(0, G * G);
    for (let i = 0; i < n; i++) order[fill[cellOfPoint[i]]++] = i;
    const shown = new Uint32Array(G * G), colour = new Uint32Array(G * G);
    let densest = 1;
    return {
      G, minX, minY, cellW, cellH, order, start, shown, colour,
      get densest() { return densest; },
      // Visible points per cell and each cell's commonest visible cluster, after a filter change.
      summarise() {
        densest = 1;
        const tally = new Map();
        for (let c = 0; c < G * G; c++) {
          let count = 0, best = -1, bestCount = 0;
          tally.clear();
          for (let k = start[c]; k < start[c + 1]; k++) {
            const i = order[k];
            if (!visible[i]) continue;
            count++;
            const t = (tally.get(labels[i]) || 0) + 1;
            tally.set(labels[i], t);
            if (t > bestCount) { bestCount = t; best = i; }
          }
          shown[c] = count;
          colour[c] = best >= 0 ? packed[best] : 0;
          if (count > densest) densest = count;
        }
      },
    };
  }

  // View state. 2-D: pan and zoom. 3-D: yaw, pitch, zoom and pan.
  const canvas = document.getElementById("map"), ctx = canvas.getContext("2d");
  let W = 0, H = 0, image = null, pixels = null, depth = null;
  const view = { zoom: 1, panX: 0, panY: 0, yaw: 0.6, pitch: -0.35 };
  const screenX = new Float32Array(n), screenY = new Float32Array(n), screenZ = new Float32Array(n);
  let hovered = -1, selected = -1, drawnPoints = 0, frames = 0, firstRenderMs = null, dirty = true;
  const background = (255 << 24) | (0x1c << 16) | (0x17 << 8) | 0x15;

  function resize() {
    const box = canvas.getBoundingClientRect();
    W = Math.max(1, Math.floor(box.width));
    H = Math.max(1, Math.floor(box.height));
    canvas.width = W;
    canvas.height = H;
    image = ctx.createImageData(W, H);
    pixels = new Uint32Array(image.data.buffer);
    depth = dims === 3 ? new Float32Array(W * H) : null;
    dirty = true;
  }

  const baseScale = () => Math.min(W, H) * 0.46;
  // The view's projection, taken once per frame (or per pick) by `fixProjection`: a million points
  // must not each recompute the rotation's sines and cosines.
  const P = { s: 1, ox: 0, oy: 0, cy: 1, sy: 0, cp: 1, sp: 0 };
  function fixProjection() {
    P.s = baseScale() * view.zoom;
    P.ox = W / 2 + view.panX;
    P.oy = H / 2 + view.panY;
    P.cy = Math.cos(view.yaw); P.sy = Math.sin(view.yaw); P.cp = Math.cos(view.pitch); P.sp = Math.sin(view.pitch);
  }
  function project(i) {
    const o = i * dims;
    if (dims === 2) {
      screenX[i] = P.ox + unit[o] * P.s;
      screenY[i] = P.oy - unit[o + 1] * P.s;
      screenZ[i] = 0;
      return;
    }
    const x = unit[o], y = unit[o + 1], z = unit[o + 2];
    const x1 = P.cy * x + P.sy * z, z1 = -P.sy * x + P.cy * z;
    const y2 = P.cp * y - P.sp * z1, z2 = P.sp * y + P.cp * z1;
    const distance = 3.2 + z2, scale = P.s * 3.2 / distance;
    screenX[i] = P.ox + x1 * scale;
    screenY[i] = P.oy - y2 * scale;
    screenZ[i] = distance;
  }

  function pointSize() {
    const base = n > 50000 ? 2 : n > 5000 ? 3 : 4;
    return Math.max(base, Math.min(9, Math.round(base * Math.sqrt(view.zoom))));
  }

  // The grid cells the screen covers, as inclusive ranges.
  function cellsOnScreen() {
    const s = baseScale() * view.zoom, G = grid.G;
    const ux = (sx) => (sx - W / 2 - view.panX) / s, uy = (sy) => -(sy - H / 2 - view.panY) / s;
    const clamp = (v) => Math.max(0, Math.min(G - 1, v));
    return {
      x0: clamp(Math.floor((ux(0) - grid.minX) / grid.cellW)), x1: clamp(Math.floor((ux(W) - grid.minX) / grid.cellW)),
      y0: clamp(Math.floor((uy(H) - grid.minY) / grid.cellH)), y1: clamp(Math.floor((uy(0) - grid.minY) / grid.cellH)),
    };
  }

  // The density view: one block a cell, alpha-blended over the background by log density.
  function renderDensity(cells) {
    const s = baseScale() * view.zoom, G = grid.G, logMax = Math.log1p(grid.densest);
    const bw = Math.max(1, Math.ceil(grid.cellW * s)), bh = Math.max(1, Math.ceil(grid.cellH * s));
    const bgR = background & 255, bgG = (background >> 8) & 255, bgB = (background >> 16) & 255;
    let drawn = 0;
    for (let cy = cells.y0; cy <= cells.y1; cy++) {
      for (let cx = cells.x0; cx <= cells.x1; cx++) {
        const c = cy * G + cx, count = grid.shown[c];
        if (!count) continue;
        drawn += count;
        const alpha = 0.3 + 0.7 * Math.log1p(count) / logMax, rgb = grid.colour[c];
        const r = Math.round(bgR + alpha * ((rgb & 255) - bgR)), g = Math.round(bgG + alpha * (((rgb >> 8) & 255) - bgG));
        const b = Math.round(bgB + alpha * (((rgb >> 16) & 255) - bgB));
        const colour = (255 << 24) | (b << 16) | (g << 8) | r;
        const x0 = Math.round(W / 2 + view.panX + (grid.minX + cx * grid.cellW) * s);
        const y0 = Math.round(H / 2 + view.panY - (grid.minY + (cy + 1) * grid.cellH) * s);
        for (let y = Math.max(0, y0); y < Math.min(H, y0 + bh); y++) {
          pixels.fill(colour, y * W + Math.max(0, x0), y * W + Math.min(W, x0 + bw));
        }
      }
    }
    return drawn;
  }

  // The points a frame considers: every one, or (with the grid) those in the cells on screen.
  function candidates(cells) {
    if (!grid) return null;
    let count = 0;
    for (let cy = cells.y0; cy <= cells.y1; cy++) count += grid.start[cy * grid.G + cells.x1 + 1] - grid.start[cy * grid.G + cells.x0];
    const out = new Int32Array(count);
    let k = 0;
    for (let cy = cells.y0; cy <= cells.y1; cy++) {
      const from = grid.start[cy * grid.G + cells.x0], to = grid.start[cy * grid.G + cells.x1 + 1];
      out.set(grid.order.subarray(from, to), k);
      k += to - from;
    }
    return out;
  }

  function render() {
    dirty = false;
    pixels.fill(background);
    if (depth) depth.fill(Infinity);
    const size = pointSize(), half = size >> 1;
    let drawn = 0;
    const onScreen = [];
    let list = null;
    lodDensity = false;
    fixProjection();
    const turning = moving && spread !== null;
    if (turning) {
      list = motionList();
      screenX.fill(NaN);  // what this frame does not draw cannot be picked
    }
    if (grid) {
      const cells = cellsOnScreen();
      let count = 0;
      for (let cy = cells.y0; cy <= cells.y1; cy++) for (let cx = cells.x0; cx <= cells.x1; cx++) count += grid.shown[cy * grid.G + cx];
      lodDensity = count > pointBudget;
      if (lodDensity) drawn = renderDensity(cells);
      else list = candidates(cells);
    }
    const total = lodDensity ? 0 : list ? list.length : n;
    for (let k = 0; k < total; k++) {
      const i = list ? list[k] : k;
      project(i);
      if (!visible[i]) { screenX[i] = NaN; continue; }
      const x0 = Math.round(screenX[i]) - half, y0 = Math.round(screenY[i]) - half;
      if (x0 + size <= 0 || y0 + size <= 0 || x0 >= W || y0 >= H || (dims === 3 && screenZ[i] <= 0.1)) { screenX[i] = NaN; continue; }
      drawn++;
      if (onScreen.length <= thumbnailLimit) onScreen.push(i);
      const colour = packed[i], z = screenZ[i];
      for (let y = Math.max(0, y0); y < Math.min(H, y0 + size); y++) {
        let p = y * W + Math.max(0, x0);
        const end = y * W + Math.min(W, x0 + size);
        if (depth) { for (; p < end; p++) if (z < depth[p]) { depth[p] = z; pixels[p] = colour; } }
        else pixels.fill(colour, p, end);
      }
    }
    ctx.putImageData(image, 0, 0);
    drawnPoints = drawn;
    if (!lodDensity && drawn <= thumbnailLimit) drawThumbnails(onScreen);
    drawMarks();
    frames++;
    if (firstRenderMs === null) {
      firstRenderMs = performance.now();
      document.body.dataset.firstRenderMs = firstRenderMs.toFixed(1);
    }
    document.body.dataset.drawnPoints = String(drawn);
    document.body.dataset.view = lodDensity ? "density" : turning ? "spread" : "points";
    lodSpread = turning;
    document.getElementById("status").textContent =
      `${drawn.toLocaleString()} of ${n.toLocaleString()} points ` +
      (lodDensity ? "in view (density: zoom in for points)" : turning ? "drawn while moving (all once still)" : "drawn") +
      (!lodDensity && drawn <= thumbnailLimit && atlasesReady ? " · thumbnails" : "") +
      (drawn < visibleCount && !grid && !turning ? ` · ${(visibleCount - drawn).toLocaleString()} off screen (Fit all shows them)` : "");
  }

  // Level of detail: when few points are on screen, each is drawn as its thumbnail.
  const thumbnailLimit = 600;
  const atlases = data.atlases.map((url) => { const img = new Image(); img.src = url; return img; });
  let atlasesReady = false;
  Promise.all(atlases.map((img) => img.decode().catch(() => null))).then(() => { atlasesReady = atlases.length > 0; dirty = true; });
  // An item's cell in the atlases, or null when it has no thumbnail (large maps keep a spread).
  function cellOf(i) {
    const slot = slotOf(i);
    if (slot < 0) return null;
    const a = data.atlas, perAtlas = a.perRow * a.perRow, cell = slot % perAtlas;
    return { atlas: Math.floor(slot / perAtlas), x: (cell % a.perRow) * a.cell, y: Math.floor(cell / a.perRow) * a.cell };
  }
  function drawThumbnails(items) {
    if (!atlasesReady) return;
    const side = Math.max(24, Math.min(data.atlas.cell, 16 * view.zoom));
    if (dims === 3) items.sort((a, b) => screenZ[b] - screenZ[a]);
    for (const i of items) {
      const c = cellOf(i), img = c && atlases[c.atlas];
      if (!img || !img.complete) continue;
      ctx.drawImage(img, c.x, c.y, data.atlas.cell, data.atlas.cell, screenX[i] - side / 2, screenY[i] - side / 2, side, side);
      ctx.strokeStyle = css(rgbOf(i));
      ctx.lineWidth = 2;
      ctx.strokeRect(screenX[i] - side / 2, screenY[i] - side / 2, side, side);
    }
  }
  function ring(i, colour, r) {
    if (i < 0 || !visible[i]) return;
    project(i);
    if (screenX[i] < -r || screenY[i] < -r || screenX[i] > W + r || screenY[i] > H + r || (dims === 3 && screenZ[i] <= 0.1)) return;
    ctx.beginPath();
    ctx.arc(screenX[i], screenY[i], r, 0, 2 * Math.PI);
    ctx.strokeStyle = colour;
    ctx.lineWidth = 2;
    ctx.stroke();
  }
  function drawMarks() {
    if (selected >= 0) {
      for (const j of neighboursOf(selected)) ring(j, "#ffd54a", 5);
      ring(selected, "#ffffff", 8);
    }
    ring(hovered, "#ffffff", 6);
  }

  function neighboursOf(i) {
    const k = data.neighbourCount, out = [];
    for (let j = 0; j < k; j++) { const m = neighbours[i * k + j]; if (m >= 0) out.push(m); }
    return out;
  }

  // Picking: the nearest drawn point within 8 px of the cursor (the front one in 3-D on ties).
  function pick(mx, my) {
    let best = -1, bestD = 64;
    fixProjection();
    if (grid) {  // the points of the cells within 8 px of the cursor, projected now
      const s = baseScale() * view.zoom, G = grid.G, reach = 8 / s;
      const ux = (mx - W / 2 - view.panX) / s, uy = -(my - H / 2 - view.panY) / s;
      const clamp = (v) => Math.max(0, Math.min(G - 1, v));
      const x0 = clamp(Math.floor((ux - reach - grid.minX) / grid.cellW)), x1 = clamp(Math.floor((ux + reach - grid.minX) / grid.cellW));
      const y0 = clamp(Math.floor((uy - reach - grid.minY) / grid.cellH)), y1 = clamp(Math.floor((uy + reach - grid.minY) / grid.cellH));
      for (let cy = y0; cy <= y1; cy++) {
        for (let k = grid.start[cy * G + x0]; k < grid.start[cy * G + x1 + 1]; k++) {
          const i = grid.order[k];
          if (!visible[i]) continue;
          project(i);
          const dx = screenX[i] - mx, dy = screenY[i] - my, d = dx * dx + dy * dy;
          if (d < bestD) { best = i; bestD = d; }
        }
      }
      return best;
    }
    for (let i = 0; i < n; i++) {
      const dx = screenX[i] - mx;
      if (!(dx * dx < bestD)) continue;  // NaN (hidden or culled) fails too
      const dy = screenY[i] - my, d = dx * dx + dy * dy;
      if (d < bestD || (d === bestD && screenZ[i] < screenZ[best])) { best = i; bestD = d; }
    }
    return best;
  }

  // Thumbnails in the DOM: a cell of the atlas as a background image.
  function thumbnail(i) {
    const div = document.createElement("div");
    div.className = "thumb";
    const c = data.atlases.length ? cellOf(i) : null;
    if (!c) return div;
    const scale = 64 / data.atlas.cell, side = data.atlas.cell * data.atlas.perRow * scale;
    div.style.backgroundImage = `url(${data.atlases[c.atlas]})`;
    div.style.backgroundSize = `${side}px auto`;
    div.style.backgroundPosition = `-${c.x * scale}px -${c.y * scale}px`;
    return div;
  }
  // A cluster's title: its name (a user's, else the run's label) after its id.
  const clusterTitle = new Map(data.clusters.map((c) => [c.id, c.name ? `${c.id} · ${c.name}` : `cluster ${c.id}`]));
  const clusterText = (i) => labels[i] < 0 ? "noise" : clusterTitle.get(labels[i]) || `cluster ${labels[i]}`;

  function element(tag, className, text) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  // An item as the tooltip and the selection show it: thumbnail, path, and a line under it.
  function itemCard(i, detail) {
    const text = element("div");
    text.append(element("div", "path", pathOf(i)), element("div", "hint", detail));
    const row = element("div", "row");
    row.append(thumbnail(i), text);
    return row;
  }

  const tooltip = document.getElementById("tooltip");
  function showTooltip(i, mx, my) {
    hovered = i;
    if (i < 0) { tooltip.style.display = "none"; return; }
    tooltip.replaceChildren(itemCard(i, clusterText(i)));
    tooltip.style.display = "block";
    const box = tooltip.getBoundingClientRect();
    tooltip.style.left = Math.min(mx + 14, W - box.width - 4) + "px";
    tooltip.style.top = Math.min(my + 14, H - box.height - 4) + "px";
  }

  function listItem(i, onClick) {
    const li = element("li");
    const swatch = element("span", "swatch");
    swatch.style.background = css(rgbOf(i));
    const name = element("span", "name", data.names[i]);
    name.title = pathOf(i);
    li.append(swatch, name);
    li.addEventListener("click", () => onClick(i));
    return li;
  }

  // A neighbour's fused score and the term that gave most, with every term in its tooltip: the
  // same columns as SIMILAR … explain=1.
  function matchOf(at) {
    if (!match || match.bits[at] === 255) return null;
    const cnn = match.cnn[at] / 1e4, style = match.style[at] / 1e4, phash = match.phash[at] / 1e4;
    const region = match.region ? match.region[at] / 1e4 : 0;
    const terms = [["cnn", cnn], ["style", style], ["phash", phash], ["region", region]];
    const dominant = terms.reduce((best, term) => (term[1] > best[1] ? term : best))[0];
    const score = cnn + style + phash + region;
    const span = element("span", "count", `${score.toFixed(3)} ${dominant}`);
    span.title = `score ${score.toFixed(4)} = cnn ${cnn.toFixed(4)} + style ${style.toFixed(4)}` +
      ` + phash ${phash.toFixed(4)} + region ${region.toFixed(4)} (${match.bits[at]} of 64 hash bits differ;` +
      ` weights: style ${data.match.styleWeight}, phash ${data.match.phashWeight},` +
      ` region ${data.match.regionWeight ?? 0})`;
    return span;
  }

  function select(i) {
    selected = i;
    const box = document.getElementById("selection");
    box.replaceChildren();
    if (i >= 0) {
      const title = element("h2", null, match ? "Nearest neighbours · score, what matched most" : "Nearest neighbours");
      title.style.marginTop = "8px";
      const list = element("ul", "list");
      list.id = "neighbours";
      const k = data.neighbourCount;
      for (let slot = 0; slot < k; slot++) {
        const j = neighbours[i * k + slot];
        if (j < 0) continue;
        const li = listItem(j, (m) => { select(m); centreOn(m); });
        const why = matchOf(i * k + slot);
        if (why) li.append(why);
        list.append(li);
      }
      box.append(itemCard(i, `${clusterText(i)} · item ${data.ids[i]}`), title, list);
    } else {
      box.append(element("div", "hint", "Click a point to list its nearest neighbours."));
    }
    dirty = true;
  }

  function centreOn(i) {
    fixProjection();
    project(i);
    view.panX += W / 2 - screenX[i];
    view.panY += H / 2 - screenY[i];
    dirty = true;
  }

  // Legend and cluster filter.
  function buildLegend() {
    const legend = document.getElementById("legend");
    const noiseCount = labels.reduce((s, l) => s + (l < 0 ? 1 : 0), 0);
    const entries = data.clusters.map((c, k) => ({ id: c.id, label: clusterTitle.get(c.id), size: c.size, rgb: clusterRGB[k] }));
    if (noiseCount > 0) entries.push({ id: -1, label: "noise", size: noiseCount, rgb: noiseRGB });
    for (const e of entries) {
      const li = document.createElement("li");
      li.dataset.cluster = String(e.id);
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = css(e.rgb);
      const name = document.createElement("span");
      name.textContent = e.label;
      const count = document.createElement("span");
      count.className = "count";
      count.textContent = e.size.toLocaleString();
      li.append(swatch, name, count);
      li.addEventListener("click", (event) => {
        if (event.shiftKey) {  // solo
          hiddenClusters.clear();
          for (const c of data.clusters) if (c.id !== e.id) hiddenClusters.add(c.id);
          showNoise = e.id === -1;
        } else if (e.id === -1) showNoise = !showNoise;
        else if (hiddenClusters.has(e.id)) hiddenClusters.delete(e.id);
        else hiddenClusters.add(e.id);
        refreshFilter();
      });
      legend.append(li);
    }
    document.getElementById("all").addEventListener("click", () => { hiddenClusters.clear(); showNoise = true; refreshFilter(); });
    document.getElementById("none").addEventListener("click", () => {
      for (const c of data.clusters) hiddenClusters.add(c.id);
      showNoise = false;
      refreshFilter();
    });
    document.getElementById("noise").addEventListener("click", () => { showNoise = !showNoise; refreshFilter(); });
  }
  function refreshFilter() {
    for (const li of document.querySelectorAll("#legend li")) {
      const id = Number(li.dataset.cluster);
      li.classList.toggle("off", id < 0 ? !showNoise : hiddenClusters.has(id));
    }
    updateVisibility();
    showTooltip(-1);
    dirty = true;
  }

  // Filename search: matching items stay, the rest are hidden; the first 100 are listed.
  function search(text) {
    query = text.trim().toLowerCase();
    const list = document.getElementById("matches");
    list.replaceChildren();
    if (!query) { matches = null; refreshFilter(); return; }
    matches = new Set();
    for (let i = 0; i < n; i++) if (pathOf(i).toLowerCase().includes(query)) matches.add(i);
    let listed = 0;
    for (const i of matches) {
      if (listed++ === 100) break;
      list.append(listItem(i, (k) => { select(k); centreOn(k); }));
    }
    document.getElementById("match-count").textContent = `${matches.size.toLocaleString()} match${matches.size === 1 ? "" : "es"}`;
    refreshFilter();
  }

  // Pointer: drag pans (2-D) or rotates (3-D; with shift, pans); the wheel zooms about the cursor.
  let drag = null;
  canvas.addEventListener("mousedown", (e) => { drag = { x: e.offsetX, y: e.offsetY, moved: false, shift: e.shiftKey }; });
  window.addEventListener("mouseup", (e) => {
    if (drag && !drag.moved && e.target === canvas) select(pick(e.offsetX, e.offsetY));
    drag = null;
    canvas.classList.remove("dragging");
  });
  canvas.addEventListener("mousemove", (e) => {
    if (drag && (e.buttons & 1)) {
      const dx = e.offsetX - drag.x, dy = e.offsetY - drag.y;
      if (!drag.moved && dx * dx + dy * dy < 9) return;
      drag.moved = true;
      canvas.classList.add("dragging");
      if (dims === 3 && !drag.shift) {
        view.yaw += dx * 0.008;
        view.pitch = Math.max(-1.5, Math.min(1.5, view.pitch + dy * 0.008));
      } else {
        view.panX += dx;
        view.panY += dy;
      }
      drag.x = e.offsetX;
      drag.y = e.offsetY;
      showTooltip(-1);
      viewMoved();
      return;
    }
    const i = pick(e.offsetX, e.offsetY);
    if (i !== hovered) { showTooltip(i, e.offsetX, e.offsetY); dirty = true; }
  });
  canvas.addEventListener("mouseleave", () => { showTooltip(-1); dirty = true; });
  canvas.addEventListener("wheel", (e) => {
    e.preventDefault();
    const factor = Math.exp(-e.deltaY * 0.0015), zoom = Math.max(Math.min(0.2, fitAllZoom / 2), Math.min(400, view.zoom * factor)), ratio = zoom / view.zoom;
    const ox = e.offsetX - W / 2, oy = e.offsetY - H / 2;
    view.panX = ox - (ox - view.panX) * ratio;
    view.panY = oy - (oy - view.panY) * ratio;
    view.zoom = zoom;
    showTooltip(-1);
    viewMoved();
  }, { passive: false });
  function resetView(all) {
    Object.assign(view, { zoom: all ? fitAllZoom : 1, panX: 0, panY: 0, yaw: 0.6, pitch: -0.35 });
    dirty = true;
  }
  document.getElementById("reset").addEventListener("click", () => resetView(false));
  document.getElementById("fit-all").addEventListener("click", () => resetView(true));
  document.getElementById("search").addEventListener("input", (e) => search(e.target.value));
  window.addEventListener("resize", resize);

  function frame() {
    if (dirty) render();
    requestAnimationFrame(frame);
  }

  document.getElementById("summary").textContent =
    `${n.toLocaleString()} items · ${data.clusters.length} clusters · run ${data.run} · ${dims}-D`;
  document.getElementById("hint").textContent = dims === 3
    ? "Drag to rotate, shift-drag to pan, wheel to zoom. Shift-click a legend entry to show only it."
    : "Drag to pan, wheel to zoom. Shift-click a legend entry to show only it.";
  buildLegend();
  updateVisibility();
  select(-1);
  resize();
  render();
  requestAnimationFrame(frame);

  // For scripts and tests: counts, the selection and the screen position of any item.
  window.kindredMap = {
    get pointCount() { return n; },
    get drawnPoints() { return drawnPoints; },
    get frames() { return frames; },
    get firstRenderMs() { return firstRenderMs; },
    get hovered() { return hovered; },
    get selected() { return selected; },
    get thumbnailsReady() { return atlasesReady; },
    // "density" when the frame drew the grid's blocks (a large 2-D map seen from far), "spread"
    // when a large 3-D map drew its spread while moving, else "points".
    get level() { return lodDensity ? "density" : lodSpread ? "spread" : "points"; },
    dims,
    pathOf,
    neighboursOf,
    rowOfItem: (id) => data.ids.indexOf(id),
    screenPosition(i) {
      fixProjection();
      project(i);
      const box = canvas.getBoundingClientRect();
      return { x: box.left + screenX[i], y: box.top + screenY[i] };
    },
    select,
    search,
    resetView,
    zoomTo(i, zoom) {
      view.zoom = zoom;
      centreOn(i);
    },
    // Mean milliseconds per redraw over `count` frames, turning (3-D) or panning (2-D) a little
    // each frame as a drag does: what interaction costs at this collection's size. With
    // `still: true`, each frame is drawn as when input has stopped (every point, in 3-D).
    timeFrames(count, { still = false } = {}) {
      const started = performance.now();
      for (let f = 0; f < count; f++) {
        if (dims === 3) view.yaw += 0.01; else view.panX += 1;
        if (still) { moving = false; clearTimeout(settleTimer); } else viewMoved();
        render();
      }
      return (performance.now() - started) / count;
    },
  };
  document.body.dataset.pointCount = String(n);
})();
