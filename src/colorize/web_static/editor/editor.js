// The hint editor of `colorize web` (served at /editor/, embedded in the main page).
//
// Everything runs against this server's own API (POST /api/preview, /api/suggest, /api/uncertainty,
// /api/colorize); nothing is loaded from another host. The photo stays in the browser: a copy shrunk
// to the server's preview size is sent for the live preview, the suggestions and the uncertainty map
// (small uploads, quick answers), the original only for the full-resolution "Colorize".
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const stage = $("stage"), photo = $("photo"), markers = $("markers"), overlay = $("uncertainty");
  const preview = $("preview"), status = $("editor-status"), runBtn = $("editor-run"), download = $("editor-download");
  const colorInput = $("hint-color"), radiusInput = $("hint-radius"), radiusValue = $("radius-value");
  const list = $("hint-list"), undoBtn = $("undo"), clearBtn = $("clear-hints"), swatches = $("suggestions");
  const suggestWhere = $("suggest-where"), showUncertainty = $("show-uncertainty");

  const state = {
    config: { preview_side: 512, preview_render_size: 256, hint_point_radius: 1.5, suggestions: true },
    defaults: { render_size: 256 },
    file: null, name: "photo", W: 0, H: 0,
    small: null, sw: 0, sh: 0,            // the shrunk copy (Blob) and its size
    hints: [], undo: [], selected: null, nextId: 1,
    drag: null, previewBusy: false, previewDirty: false, previews: 0,
    uncertaintyFor: null, photoUrl: null, resultUrl: null, suggestSeq: 0,
    pageUrl: null,                       // the main page's photo this one came from (its hints go with the page's run)
  };

  // ------------------------------------------------------------------ helpers

  function say(text, error = false) {
    status.textContent = text;
    status.classList.toggle("error", !!error);
  }

  async function post(path, fields) {
    const form = new FormData();
    for (const [k, v] of Object.entries(fields)) {
      if (v === undefined || v === null) continue;
      if (v instanceof Blob) form.append(k, v, k === "image" ? (v.name || state.name) : "blob");
      else form.append(k, String(v));
    }
    const r = await fetch(path, { method: "POST", body: form });
    if (!r.ok) {
      let detail = `${r.status} ${r.statusText}`;
      try {
        const j = await r.json();
        detail = typeof j.detail === "string" ? j.detail : JSON.stringify(j.detail);
      } catch (_) { /* not JSON */ }
      throw new Error(detail);
    }
    return r;
  }

  const clone = (hints) => hints.map((h) => ({ ...h }));
  const round1 = (v) => Math.round(v * 10) / 10;
  const defaultRadius = () => Math.max(1, round1(state.config.hint_point_radius * Math.max(state.W, state.H) /
                                                  (state.defaults.render_size || 256)));

  function hintField(scaleX, scaleY) {
    // "X,Y,RADIUS=#rrggbb; ..." in pixels of the image sent (pixel centres kept in place).
    const s = Math.min(scaleX, scaleY);
    return state.hints.map((h) => {
      const x = Math.min(state.W * scaleX - 1, Math.max(0, (h.x + 0.5) * scaleX - 0.5));
      const y = Math.min(state.H * scaleY - 1, Math.max(0, (h.y + 0.5) * scaleY - 0.5));
      return `${x.toFixed(2)},${y.toFixed(2)},${(h.radius * s).toFixed(2)}=${h.color}`;
    }).join("; ") || null;
  }

  // ------------------------------------------------------------------ loading a photo

  async function loadPhoto(blob, name) {
    say(`Opening ${name} ...`);
    const url = URL.createObjectURL(blob);
    const img = new Image();
    try {
      await new Promise((ok, fail) => { img.onload = ok; img.onerror = fail; img.src = url; });
    } catch (_) {
      URL.revokeObjectURL(url);
      say(`${name}: this browser cannot show the file; use PNG, JPEG or WebP`, true);
      return false;
    }
    if (state.photoUrl) URL.revokeObjectURL(state.photoUrl);
    state.photoUrl = url;
    state.file = blob; state.name = name; state.W = img.naturalWidth; state.H = img.naturalHeight;
    const s = Math.min(1, state.config.preview_side / Math.max(state.W, state.H));
    state.sw = Math.max(1, Math.round(state.W * s)); state.sh = Math.max(1, Math.round(state.H * s));
    if (s < 1) {
      const c = document.createElement("canvas");
      c.width = state.sw; c.height = state.sh;
      const g = c.getContext("2d");
      g.imageSmoothingEnabled = true; g.imageSmoothingQuality = "high";
      g.drawImage(img, 0, 0, state.sw, state.sh);
      state.small = await new Promise((ok) => c.toBlob(ok, "image/png"));
    } else {
      state.small = blob;
    }
    photo.src = url;
    stage.classList.remove("empty");
    fit();
    state.hints = []; state.undo = []; state.selected = null; state.uncertaintyFor = null;
    radiusInput.max = String(Math.max(16, Math.round(Math.max(state.W, state.H) / 8)));
    setRadius(defaultRadius());
    overlay.hidden = true;
    runBtn.disabled = false;
    swatches.innerHTML = "<small>Click on the photo to see the model's likely colours there.</small>";
    suggestWhere.textContent = "";
    changed();
    if (showUncertainty.checked) toggleUncertainty();
    return true;
  }

  function setRadius(r) {
    radiusInput.value = String(r);
    radiusValue.textContent = `${r} px`;
  }

  // ------------------------------------------------------------------ drawing

  function fit() {
    // Photo and preview at one size: as large as the pane and the window allow (small photos enlarged up to 4x).
    if (!state.W) return;
    const pane = stage.parentElement;
    const availW = Math.max(120, pane.clientWidth - 2);
    const availH = Math.max(160, window.innerHeight - stage.getBoundingClientRect().top + document.documentElement.scrollTop - 16);
    const s = Math.min(availW / state.W, availH / state.H, 4);
    const w = `${Math.round(state.W * s)}px`, h = `${Math.round(state.H * s)}px`;
    for (const img of [photo, preview]) { img.style.width = w; img.style.height = h; }
  }

  function render() {
    markers.textContent = "";
    const scale = photo.clientWidth / (state.W || 1);
    for (const h of state.hints) {
      const m = document.createElement("div");
      m.className = "marker" + (h.id === state.selected ? " selected" : "") + (state.drag && state.drag.id === h.id ? " dragging" : "");
      const d = Math.max(12, 2 * h.radius * scale);  // the hint's radius on screen (at least visible)
      m.style.width = m.style.height = `${d}px`;
      m.style.left = `${((h.x + 0.5) / state.W) * 100}%`;
      m.style.top = `${((h.y + 0.5) / state.H) * 100}%`;
      m.style.background = h.color;
      m.dataset.id = String(h.id);
      m.title = `${h.color} at ${Math.round(h.x)},${Math.round(h.y)} (radius ${h.radius} px)`;
      markers.appendChild(m);
    }
    list.textContent = "";
    state.hints.forEach((h, i) => {
      const li = document.createElement("li");
      li.dataset.id = String(h.id);
      if (h.id === state.selected) li.className = "selected";
      li.innerHTML = `<span class="chip"></span> <span class="where"></span><button class="delete" type="button">×</button>`;
      li.querySelector(".chip").style.background = h.color;
      li.querySelector(".where").textContent = `${h.color} at ${Math.round(h.x)}, ${Math.round(h.y)}`;
      const del = li.querySelector(".delete");
      del.setAttribute("aria-label", `Delete hint ${i + 1}`);
      del.addEventListener("click", (e) => { e.stopPropagation(); edit(() => { state.hints = state.hints.filter((o) => o.id !== h.id); }); });
      li.addEventListener("click", () => select(h.id, true));
      list.appendChild(li);
    });
    undoBtn.disabled = state.undo.length === 0;
    clearBtn.disabled = state.hints.length === 0;
    document.body.dataset.hints = String(state.hints.length);
  }

  function edit(mutate) {
    state.undo.push(clone(state.hints));
    mutate();
    changed();
  }

  function changed() {
    if (state.selected !== null && !state.hints.some((h) => h.id === state.selected)) state.selected = null;
    render();
    download.hidden = true;
    $("result-title").textContent = "Preview";
    requestPreview();
  }

  function select(id, suggest) {
    state.selected = id;
    const h = state.hints.find((o) => o.id === id);
    if (h) { colorInput.value = h.color; setRadius(h.radius); }
    render();
    if (h && suggest) suggestAt(h);
  }

  // ------------------------------------------------------------------ the server

  function requestPreview() {
    if (!state.small) return;
    state.previewDirty = true;
    if (!state.previewBusy) runPreview();
  }

  async function runPreview() {
    state.previewBusy = true;
    while (state.previewDirty) {
      state.previewDirty = false;
      const hints = hintField(state.sw / state.W, state.sh / state.H);
      const t0 = performance.now();
      try {
        const r = await post("../api/preview", { image: state.small, hints });
        const blob = await r.blob();
        if (state.previewDirty) continue;  // the hints changed meanwhile: show only the latest
        showImage(blob);
        state.previews += 1;
        document.body.dataset.previews = String(state.previews);
        preview.dataset.hints = hints || "";
        say(`Preview ${r.headers.get("X-Colorize-Size") || ""} in ${((performance.now() - t0) / 1000).toFixed(2)} s ` +
            `(${state.hints.length} hint${state.hints.length === 1 ? "" : "s"}); "Colorize" for the full resolution.`);
      } catch (e) {
        say(`Preview failed: ${e.message}`, true);
      }
    }
    state.previewBusy = false;
  }

  function showImage(blob) {
    if (state.resultUrl) URL.revokeObjectURL(state.resultUrl);
    state.resultUrl = URL.createObjectURL(blob);
    preview.src = state.resultUrl;
    preview.hidden = false;
  }

  async function suggestAt(h) {
    if (!state.config.suggestions || !state.small) return;
    const seq = ++state.suggestSeq;
    const sx = state.sw / state.W, sy = state.sh / state.H;
    const x = Math.min(state.sw - 1, Math.max(0, (h.x + 0.5) * sx - 0.5)), y = Math.min(state.sh - 1, Math.max(0, (h.y + 0.5) * sy - 0.5));
    try {
      const r = await post("../api/suggest", { image: state.small, x: x.toFixed(2), y: y.toFixed(2), k: 6 });
      const j = await r.json();
      if (seq !== state.suggestSeq) return;
      suggestWhere.textContent = `at ${Math.round(h.x)}, ${Math.round(h.y)}`;
      swatches.textContent = "";
      for (const c of j.colors) {
        const b = document.createElement("button");
        b.type = "button"; b.className = "swatch"; b.style.background = c.hex;
        b.title = `${c.hex}: ${(c.probability * 100).toFixed(0)}% likely here`;
        b.dataset.color = c.hex;
        b.innerHTML = `<span>${Math.round(c.probability * 100)}%</span>`;
        b.addEventListener("click", () => useColor(c.hex));
        swatches.appendChild(b);
      }
    } catch (e) {
      swatches.textContent = `No suggestions: ${e.message}`;
    }
  }

  function useColor(hex) {
    colorInput.value = hex;
    const h = state.hints.find((o) => o.id === state.selected);
    if (h && h.color !== hex) edit(() => { state.hints.find((o) => o.id === h.id).color = hex; });
  }

  async function toggleUncertainty() {
    if (!showUncertainty.checked || !state.small) { overlay.hidden = true; return; }
    if (state.uncertaintyFor !== state.small) {
      try {
        say("Computing the uncertainty map ...");
        const r = await post("../api/uncertainty", { image: state.small });
        const img = await createImageBitmap(await r.blob());
        overlay.width = img.width; overlay.height = img.height;
        const g = overlay.getContext("2d");
        g.drawImage(img, 0, 0);
        const data = g.getImageData(0, 0, img.width, img.height);
        // gray entropy -> magenta, as opaque as unsure, stretched over this photo's range (the map says where a
        // hint helps *most*, so its contrast matters more than its absolute level)
        const hist = new Array(256).fill(0);
        for (let i = 0; i < data.data.length; i += 4) hist[data.data[i]] += 1;
        const level = (q) => { let n = 0; for (let v = 0; v < 256; v++) { n += hist[v]; if (n >= q * data.data.length / 4) return v; } return 255; };
        const lo = level(0.10), hi = level(0.99), span = Math.max(1, hi - lo);  // the photo's own 10th-99th percentile
        for (let i = 0; i < data.data.length; i += 4) {
          const u = Math.min(1, Math.max(0, (data.data[i] - lo) / span));
          data.data[i] = 255; data.data[i + 1] = 0; data.data[i + 2] = 200; data.data[i + 3] = Math.round(230 * u * u * u);
        }
        overlay.dataset.range = `${(lo / 255).toFixed(2)}-${(hi / 255).toFixed(2)}`;
        g.putImageData(data, 0, 0);
        state.uncertaintyFor = state.small;
        say(`Uncertainty ${overlay.dataset.range} (entropy / log Q): the more magenta, the less sure the model is (a hint helps most there).`);
      } catch (e) {
        say(`Uncertainty failed: ${e.message}`, true);
        showUncertainty.checked = false;
        return;
      }
    }
    overlay.hidden = !showUncertainty.checked;
  }

  async function colorizeFull() {
    if (!state.file) return;
    runBtn.disabled = true;
    const t0 = performance.now();
    say(`Colorizing ${state.name} at full resolution (${state.W}x${state.H}) ...`);
    try {
      const r = await post("../api/colorize", { image: state.file, hints: hintField(1, 1), format: "png" });
      const blob = await r.blob();
      showImage(blob);
      $("result-title").textContent = `Result (full resolution, ${state.W}x${state.H})`;
      download.href = state.resultUrl;
      download.download = `${state.name.replace(/\.[^.]*$/, "") || "photo"}_colorized.png`;
      download.hidden = false;
      say(`Colorized ${state.name} (${state.W}x${state.H}) in ${((performance.now() - t0) / 1000).toFixed(1)} s.`);
    } catch (e) {
      say(`Colorize failed: ${e.message}`, true);
    } finally {
      runBtn.disabled = false;
    }
  }

  // ------------------------------------------------------------------ pointer: place, select, drag

  function photoPoint(ev) {
    const r = photo.getBoundingClientRect();
    const x = ((ev.clientX - r.left) / r.width) * state.W - 0.5, y = ((ev.clientY - r.top) / r.height) * state.H - 0.5;
    return { x: Math.min(state.W - 1, Math.max(0, x)), y: Math.min(state.H - 1, Math.max(0, y)) };
  }

  stage.addEventListener("pointerdown", (ev) => {
    if (!state.file || ev.button !== 0) return;
    ev.preventDefault();
    const before = clone(state.hints);
    const onMarker = ev.target.closest && ev.target.closest(".marker");
    let id;
    if (onMarker) {
      id = Number(onMarker.dataset.id);
    } else {
      const p = photoPoint(ev);
      id = state.nextId++;
      state.hints.push({ id, x: round1(p.x), y: round1(p.y), color: colorInput.value, radius: Number(radiusInput.value) });
    }
    state.drag = { id, before, moved: !onMarker, startX: ev.clientX, startY: ev.clientY };
    stage.setPointerCapture(ev.pointerId);
    select(id, false);
  });

  stage.addEventListener("pointermove", (ev) => {
    const d = state.drag;
    if (!d) return;
    if (Math.abs(ev.clientX - d.startX) + Math.abs(ev.clientY - d.startY) < 3 && !d.dragged) return;
    d.dragged = d.moved = true;
    const h = state.hints.find((o) => o.id === d.id);
    const p = photoPoint(ev);
    h.x = round1(p.x); h.y = round1(p.y);
    render();
  });

  function endDrag() {
    const d = state.drag;
    if (!d) return;
    state.drag = null;
    const h = state.hints.find((o) => o.id === d.id);
    if (d.moved) {
      state.undo.push(d.before);
      changed();
    } else {
      render();
    }
    if (h) suggestAt(h);
  }
  stage.addEventListener("pointerup", endDrag);
  stage.addEventListener("pointercancel", endDrag);

  // ------------------------------------------------------------------ controls

  $("editor-file").addEventListener("change", (ev) => {
    const f = ev.target.files && ev.target.files[0];
    if (f) { state.pageUrl = null; loadPhoto(f, f.name); }
  });
  stage.addEventListener("dragover", (ev) => { ev.preventDefault(); stage.classList.add("drop"); });
  stage.addEventListener("dragleave", () => stage.classList.remove("drop"));
  stage.addEventListener("drop", (ev) => {
    ev.preventDefault();
    stage.classList.remove("drop");
    const f = ev.dataTransfer.files && ev.dataTransfer.files[0];
    if (f) { state.pageUrl = null; loadPhoto(f, f.name); }
  });
  colorInput.addEventListener("change", () => useColor(colorInput.value));
  radiusInput.addEventListener("input", () => {
    radiusValue.textContent = `${radiusInput.value} px`;
    const h = state.hints.find((o) => o.id === state.selected);
    if (h) { h.radius = Number(radiusInput.value); render(); }
  });
  radiusInput.addEventListener("change", () => {
    const h = state.hints.find((o) => o.id === state.selected);
    if (h) { state.undo.push(clone(state.hints).map((o) => (o.id === h.id ? { ...o, radius: state.radiusBefore ?? o.radius } : o))); changed(); }
  });
  radiusInput.addEventListener("pointerdown", () => {
    const h = state.hints.find((o) => o.id === state.selected);
    state.radiusBefore = h ? h.radius : null;
  });
  undoBtn.addEventListener("click", () => {
    if (!state.undo.length) return;
    state.hints = state.undo.pop();
    changed();
  });
  clearBtn.addEventListener("click", () => edit(() => { state.hints = []; }));
  showUncertainty.addEventListener("change", toggleUncertainty);
  runBtn.addEventListener("click", colorizeFull);
  new ResizeObserver(render).observe(photo);
  window.addEventListener("resize", fit);

  // The main page's Colorize asks for the hints of its first photo: relative x, y (0-1) and radius (of the
  // long side); none when the editor holds another photo.
  window.colorizeEditorHints = (pageUrl) => {
    if (!state.pageUrl || !pageUrl || new URL(pageUrl, location.href).href !== state.pageUrl) return null;
    const long = Math.max(state.W, state.H);
    return state.hints.map((h) => ({ x: h.x / state.W, y: h.y / state.H, color: h.color, radius: h.radius / long }));
  };

  // The main page hands over its first photo (same origin only).
  window.addEventListener("message", async (ev) => {
    if (ev.origin !== location.origin || !ev.data || ev.data.type !== "colorize-photo" || !ev.data.url) return;
    try {
      const url = new URL(ev.data.url, location.href);
      if (url.origin !== location.origin) return;
      state.pageUrl = null;
      const r = await fetch(url);
      if (!r.ok) throw new Error(`${r.status}`);
      if (await loadPhoto(await r.blob(), ev.data.name || "photo")) state.pageUrl = url.href;
    } catch (e) {
      say(`Could not open the page's photo (${e.message}); open it here instead.`, true);
    }
  });

  fetch("../api/models").then((r) => r.json()).then((j) => {
    const loaded = j.loaded || {};
    Object.assign(state.config, loaded.editor || {});
    Object.assign(state.defaults, loaded.defaults || {});
    if (!state.config.suggestions) swatches.innerHTML = "<small>This model has no colour distribution: no suggestions.</small>";
    if (state.W) setRadius(defaultRadius());
    document.body.dataset.ready = "1";
  }).catch(() => { document.body.dataset.ready = "1"; });
})();
