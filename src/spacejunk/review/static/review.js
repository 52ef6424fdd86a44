/* spacejunk review page: OpenSeadragon viewer + the review API (see docs/review.md). */
(function () {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const S = {
    session: null,      // /api/session
    images: [],         // queue order, from /api/images
    image: null,        // the open image (state + max_level, tile_size)
    marks: [],          // its marks in review order
    history: [],        // its change log
    selected: null,     // selected mark id
    stretch: "asinh",
    bands: [],          // bands feeding the RGB
    size: "small",
    category: null,
    visited: [],        // names opened, for "previous"
    busy: false,
  };

  // ------------------------------------------------------------------ helpers
  function setStatus(text, isError) {
    const el = $("status");
    el.textContent = text || "";
    el.classList.toggle("error", !!isError);
  }

  async function api(method, path, body) {
    const init = { method: method, credentials: "same-origin", headers: {} };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    let data = {};
    try { data = await response.json(); } catch (e) { data = {}; }
    if (!response.ok) {
      const err = new Error(data.error || (response.status + " " + response.statusText));
      err.status = response.status;
      throw err;
    }
    return data;
  }

  function reviewer() {
    return $("reviewer").value.trim() || (S.session && S.session.reviewer) || "anonymous";
  }

  function colour(category) {
    return (S.session && S.session.colours[category]) || "#c0c0c0";
  }

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const k in attrs || {}) { e.setAttribute(k, attrs[k]); }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }

  function shortTime(iso) {
    if (!iso) { return ""; }
    const d = new Date(iso);
    return isNaN(d) ? iso : d.toLocaleString();
  }

  function showProgress(p) {
    const e = $("progress");
    e.dataset.reviewed = p.reviewed;
    e.dataset.total = p.total;
    e.textContent = "Reviewed " + p.reviewed + " of " + p.total;
  }

  // ------------------------------------------------------------------ viewer
  const viewer = OpenSeadragon({
    element: $("viewer"),
    prefixUrl: "/static/vendor/openseadragon/images/",
    drawer: "canvas",
    imageSmoothingEnabled: false,      // zoomed in, one image pixel is a crisp square
    maxZoomPixelRatio: 48,
    minZoomImageRatio: 0.5,
    visibilityRatio: 0.2,
    animationTime: 0.4,
    showNavigator: true,
    navigatorPosition: "BOTTOM_RIGHT",
    showRotationControl: false,
    gestureSettingsMouse: { clickToZoom: false, dblClickToZoom: false },   // a click adds a mark
    gestureSettingsTouch: { clickToZoom: false, dblClickToZoom: false },
    crossOriginPolicy: false,
    loadTilesWithAjax: false,
    timeout: 120000,
  });

  function tileSource(img) {
    const q = "?bands=" + encodeURIComponent(S.bands.join(",")) + "&stretch=" + encodeURIComponent(S.stretch);
    const base = "/api/images/" + encodeURIComponent(img.name) + "/tiles/";
    return {
      width: img.nx, height: img.ny, tileSize: img.tile_size, tileOverlap: 0,
      minLevel: 0, maxLevel: img.max_level,
      getTileUrl: function (level, x, y) { return base + level + "/" + x + "_" + y + ".png" + q; },
    };
  }

  function item() { return viewer.world.getItemCount() ? viewer.world.getItemAt(0) : null; }

  // Image pixel (x, y) with 0-based centres <-> OpenSeadragon image coordinates (pixel i spans [i, i+1)).
  function markRect(m) {
    const W = S.image.nx;
    return new OpenSeadragon.Rect((m.x + 0.5 - m.radius) / W, (m.y + 0.5 - m.radius) / W,
                                  (2 * m.radius) / W, (2 * m.radius) / W);
  }

  function reloadTiles() {
    if (!S.image) { return; }
    viewer.addTiledImage({ tileSource: tileSource(S.image), index: 0, replace: true });
  }

  // ------------------------------------------------------------------ marks on the picture
  function drawMarks() {
    viewer.clearOverlays();
    for (const m of S.marks) {
      if (m.decision === "deleted") { continue; }
      const box = el("div", { id: "mark-" + m.id, "data-id": String(m.id),
        class: "mark src-" + m.source + " dec-" + m.decision + (m.id === S.selected ? " selected" : "") });
      box.style.borderColor = colour(m.category);
      const pin = el("span", { class: "pin" });   // keeps a tiny circle findable when zoomed out
      pin.style.background = colour(m.category);
      box.appendChild(pin);
      box.appendChild(el("span", { class: "tag" },
        m.category + (m.source === "model" ? " " + (m.score || 0).toFixed(2) : "")));
      viewer.addOverlay({ element: box, location: markRect(m) });
      attachTracker(box, m);
    }
  }

  function attachTracker(box, m) {
    let rect = null;
    let moved = false;
    new OpenSeadragon.MouseTracker({
      element: box,
      preProcessEventHandler: function (info) {
        // keep presses, clicks and drags on a mark away from the viewer (no pan, no new mark)
        if (["pointerdown", "pointerup", "pointermove", "click", "dblclick", "contextmenu"].indexOf(info.eventType) >= 0) {
          info.stopPropagation = true;
        }
      },
      pressHandler: function () { rect = markRect(m); moved = false; },
      clickHandler: function (e) { if (e.quick) { select(m.id, false); } },
      dragHandler: function (e) {
        if (!rect) { return; }
        const d = viewer.viewport.deltaPointsFromPixels(e.delta, true);
        rect = new OpenSeadragon.Rect(rect.x + d.x, rect.y + d.y, rect.width, rect.height);
        moved = true;
        viewer.updateOverlay(box, rect);
      },
      dragEndHandler: function () {
        if (!moved || !rect) { return; }
        const W = S.image.nx;
        const x = clamp((rect.x + rect.width / 2) * W - 0.5, 0, S.image.nx - 0.01);
        const y = clamp((rect.y + rect.height / 2) * W - 0.5, 0, S.image.ny - 0.01);
        rect = null;
        change(m.id, { x: round1(x), y: round1(y) }, "moved");
      },
    });
  }

  function clamp(v, lo, hi) { return Math.min(Math.max(v, lo), hi); }
  function round1(v) { return Math.round(v * 10) / 10; }

  viewer.addHandler("canvas-click", function (e) {
    if (!e.quick || !S.image || !item()) { return; }
    const target = e.originalEvent && e.originalEvent.target;
    if (target && target.closest && target.closest(".mark")) { return; }
    const p = item().viewerElementToImageCoordinates(e.position);
    const x = p.x - 0.5, y = p.y - 0.5;
    if (x < 0 || y < 0 || x >= S.image.nx || y >= S.image.ny) {
      setStatus("That click is outside the image.", true);
      return;
    }
    addMark(round1(Math.min(x, S.image.nx - 0.01)), round1(Math.min(y, S.image.ny - 0.01)));
  });

  // ------------------------------------------------------------------ lists
  function renderQueue() {
    const ol = $("queue");
    ol.textContent = "";
    for (const img of S.images) {
      const li = el("li", { "data-name": img.name, class: img.status === "done" ? "done" : "" });
      if (S.image && img.name === S.image.name) { li.classList.add("current"); }
      li.appendChild(el("span", { class: "name", title: img.name }, img.name));
      let meta = "uncertainty " + img.uncertainty.toFixed(2) + " · " + img.n_marks + " marks";
      if (img.status === "done") { meta += " · by " + img.reviewed_by; }
      else if (img.claimed_by && img.claimed_by !== reviewer()) { meta += " · open by " + img.claimed_by; }
      li.appendChild(el("span", { class: "meta" }, meta));
      li.addEventListener("click", function () { openImage(img.name); });
      ol.appendChild(li);
    }
  }

  function renderMarks() {
    const ol = $("marks");
    ol.textContent = "";
    const live = S.marks.filter((m) => m.decision !== "deleted");
    $("marks-count").textContent = "(" + live.filter((m) => m.decision === "pending").length + " pending of " + live.length + ")";
    for (const m of live) {
      const li = el("li", { "data-id": String(m.id), class: m.id === S.selected ? "selected" : "" });
      const sw = el("span", { class: "swatch" });
      sw.style.borderColor = colour(m.category);
      li.appendChild(sw);
      li.appendChild(el("span", { class: "what" }, "#" + m.id + " " + m.category + " " +
        (m.source === "model" ? "model " + (m.score || 0).toFixed(2) : "person") + " r=" + Math.round(m.radius)));
      li.appendChild(el("span", { class: "decision " + m.decision }, m.decision));
      li.appendChild(el("span", { class: "who" }, m.reviewer ? m.reviewer + ", " + shortTime(m.time) : "not reviewed"));
      li.addEventListener("click", function () { select(m.id, true); });
      ol.appendChild(li);
    }
    updateButtons();
  }

  function renderHistory() {
    const ol = $("history");
    ol.textContent = "";
    for (const h of S.history.slice().reverse().slice(0, 20)) {
      let what = h.action;
      if (h.action === "update") { what = "changed #" + h.mark + " " + Object.keys(h.detail).map((k) => k + "→" + h.detail[k][1]).join(", "); }
      else if (h.action === "add") { what = "added #" + h.mark + " " + h.detail.category; }
      else if (h.action === "done") { what = "finished the image"; }
      else if (h.action === "propose") { what = "model proposed " + h.detail.marks + " marks"; }
      ol.appendChild(el("li", {}, (h.reviewer || h.detail.model || "model") + ": " + what + " (" + shortTime(h.time) + ")"));
    }
  }

  function renderImageBar() {
    const img = S.image;
    $("image-name").textContent = img.name;
    let info = img.nx + " × " + img.ny + " px · bands " + img.bands.join(",") + " · uncertainty " + img.uncertainty.toFixed(2);
    info += img.status === "done" ? " · reviewed by " + img.reviewed_by + " " + shortTime(img.reviewed_at) : " · not reviewed yet";
    $("image-info").textContent = info;
    $("prev").disabled = S.visited.length < 2 && S.images.length < 2;
  }

  function renderBands() {
    const box = $("bands");
    box.textContent = "";
    box.appendChild(el("span", {}, "Bands"));
    S.image.bands.forEach(function (b, i) {
      const label = el("label", { title: "toggle band " + b + " (" + (i + 1) + ")" });
      const input = el("input", { type: "checkbox", value: b, "data-band": b });
      input.checked = S.bands.indexOf(b) >= 0;
      input.addEventListener("change", function () { toggleBand(b); });
      label.appendChild(input);
      label.appendChild(document.createTextNode(" " + b));
      box.appendChild(label);
    });
  }

  function renderStretches() {
    const box = $("stretches");
    box.textContent = "";
    box.appendChild(el("span", {}, "Stretch"));
    for (const s of S.session.stretches) {
      const label = el("label");
      const input = el("input", { type: "radio", name: "stretch", value: s });
      input.checked = s === S.stretch;
      input.addEventListener("change", function () { setStretch(s); });
      label.appendChild(input);
      label.appendChild(document.createTextNode(" " + s));
      box.appendChild(label);
    }
    const t = el("kbd", {}, "T");
    box.appendChild(t);
  }

  function updateButtons() {
    const m = selectedMark();
    $("accept").disabled = !m || m.decision === "accepted";
    $("reject").disabled = !m || m.source !== "model" || m.decision === "rejected";
    $("delete").disabled = !m;
  }

  // ------------------------------------------------------------------ actions
  function selectedMark() { return S.marks.find((m) => m.id === S.selected) || null; }

  function select(id, centre) {
    S.selected = id;
    document.querySelectorAll(".mark.selected, #marks li.selected").forEach((e) => e.classList.remove("selected"));
    const box = $("mark-" + id);
    if (box) { box.classList.add("selected"); }
    const li = document.querySelector('#marks li[data-id="' + id + '"]');
    if (li) { li.classList.add("selected"); li.scrollIntoView({ block: "nearest" }); }
    updateButtons();
    const m = selectedMark();
    if (m && centre) {
      const r = markRect(m);
      const shown = viewer.viewport.deltaPixelsFromPoints(new OpenSeadragon.Point(r.width, 0), true).x;
      if (shown < 24 || shown > viewer.container.clientWidth) {
        viewer.viewport.fitBounds(new OpenSeadragon.Rect(r.x - 1.5 * r.width, r.y - 1.5 * r.height, 4 * r.width, 4 * r.height));
      } else {
        viewer.viewport.panTo(r.getCenter());
      }
    }
  }

  function step(delta) {
    const live = S.marks.filter((m) => m.decision !== "deleted");
    if (!live.length) { return; }
    let i = live.findIndex((m) => m.id === S.selected);
    i = i < 0 ? (delta > 0 ? 0 : live.length - 1) : (i + delta + live.length) % live.length;
    select(live[i].id, true);
  }

  function replaceMark(mark) {
    const i = S.marks.findIndex((m) => m.id === mark.id);
    if (i >= 0) { S.marks[i] = mark; } else { S.marks.push(mark); }
  }

  async function change(id, fields, verb) {
    const m = S.marks.find((x) => x.id === id);
    if (!m) { return; }
    try {
      const body = Object.assign({ reviewer: reviewer(), version: m.version }, fields);
      const data = await api("PATCH", "/api/marks/" + id, body);
      replaceMark(data.mark);
      setStatus("Mark #" + id + " " + (verb || data.mark.decision) + ".");
      if (data.mark.decision === "deleted" && S.selected === id) { S.selected = null; }
    } catch (err) {
      setStatus(err.message, true);
      if (err.status === 409 && S.image) { await loadImage(S.image.name); return; }
    }
    drawMarks();
    renderMarks();
    refreshHistory();
  }

  function decide(decision) {
    const m = selectedMark();
    if (!m) { setStatus("Select a mark first (J / K or click it).", true); return; }
    if (decision === "rejected" && m.source !== "model") { setStatus("Only the model's proposals can be rejected; delete yours.", true); return; }
    const id = m.id;
    change(id, { decision: decision }).then(function () {
      if (decision !== "deleted") {   // move on to the next pending proposal
        const next = S.marks.find((x) => x.decision === "pending");
        if (next) { select(next.id, true); } else { select(id, false); }
      }
    });
  }

  async function addMark(x, y) {
    try {
      const data = await api("POST", "/api/images/" + encodeURIComponent(S.image.name) + "/marks",
        { x: x, y: y, size: S.size, category: S.category, reviewer: reviewer() });
      S.marks.push(data.mark);
      S.selected = data.mark.id;
      setStatus("Added mark #" + data.mark.id + " (" + data.mark.category + ", " + S.size + ") at " + x + ", " + y + ".");
    } catch (err) {
      setStatus(err.message, true);
    }
    drawMarks();
    renderMarks();
    refreshHistory();
  }

  function recategorise() {
    const m = selectedMark();
    if (!m) { setStatus("Select a mark first.", true); return; }
    change(m.id, { category: S.category }, "is now " + S.category);
  }

  async function refreshHistory() {
    if (!S.image) { return; }
    try {
      const data = await api("GET", "/api/images/" + encodeURIComponent(S.image.name));
      S.history = data.history;
      S.image = data.image;
      renderHistory();
      renderImageBar();
    } catch (err) { /* keep the old one */ }
  }

  async function refreshQueue() {
    const data = await api("GET", "/api/images");
    S.images = data.images;
    showProgress(data.progress);
    renderQueue();
  }

  async function loadImage(name) {
    const data = await api("GET", "/api/images/" + encodeURIComponent(name));
    S.image = data.image;
    S.marks = data.marks;
    S.history = data.history;
    return data;
  }

  async function openImage(name) {
    if (S.busy) { return; }
    S.busy = true;
    try {
      const keepBands = S.image ? S.bands.slice() : null;
      await loadImage(name);
      S.bands = S.image.bands.filter((b) => !keepBands || keepBands.indexOf(b) >= 0);
      if (!S.bands.length) { S.bands = S.image.bands.slice(); }
      S.selected = null;
      if (S.visited[S.visited.length - 1] !== name) { S.visited.push(name); }
      history.replaceState(null, "", "#" + encodeURIComponent(name));
      api("POST", "/api/images/" + encodeURIComponent(name) + "/claim", { reviewer: reviewer() }).catch(() => {});
      viewer.addOnceHandler("open", function () {
        drawMarks();
        const first = S.marks.find((m) => m.decision === "pending");
        if (first) { select(first.id, false); }
      });
      viewer.open(tileSource(S.image));
      renderImageBar();
      renderBands();
      renderMarks();
      renderHistory();
      renderQueue();
      setStatus("Opened " + name + ".");
    } catch (err) {
      setStatus(err.message, true);
    } finally {
      S.busy = false;
    }
  }

  async function doneAndNext() {
    if (!S.image) { return; }
    const name = S.image.name;
    try {
      const data = await api("POST", "/api/images/" + encodeURIComponent(name) + "/review", { done: true, reviewer: reviewer() });
      showProgress(data.progress);
      const next = await api("GET", "/api/next?reviewer=" + encodeURIComponent(reviewer()) + "&current=" + encodeURIComponent(name));
      await refreshQueue();
      if (next.name) {
        await openImage(next.name);
        setStatus("Finished " + name + "; opened " + next.name + ".");
      } else {
        await loadImage(name);
        drawMarks(); renderMarks(); renderImageBar(); renderHistory();
        setStatus("Finished " + name + ". Every image is reviewed: thank you!");
      }
    } catch (err) {
      setStatus(err.message, true);
    }
  }

  function previous() {
    if (S.visited.length >= 2) {
      S.visited.pop();
      openImage(S.visited.pop());
      return;
    }
    const i = S.images.findIndex((x) => S.image && x.name === S.image.name);
    if (i > 0) { openImage(S.images[i - 1].name); }
  }

  function setStretch(s) {
    S.stretch = s;
    document.querySelectorAll('input[name="stretch"]').forEach((r) => { r.checked = r.value === s; });
    reloadTiles();
    setStatus("Stretch: " + s + ".");
  }

  function toggleBand(b) {
    const i = S.bands.indexOf(b);
    if (i >= 0) {
      if (S.bands.length === 1) { setStatus("At least one band must feed the picture.", true); renderBands(); return; }
      S.bands.splice(i, 1);
    } else {
      S.bands.push(b);
      S.bands = S.image.bands.filter((x) => S.bands.indexOf(x) >= 0);
    }
    renderBands();
    reloadTiles();
    setStatus("Bands: " + S.bands.join(",") + ".");
  }

  function setSize(size) {
    S.size = size;
    document.querySelectorAll('input[name="size"]').forEach((r) => { r.checked = r.value === size; });
  }

  function cycleCategory(delta) {
    const cats = S.session.categories;
    S.category = cats[(cats.indexOf(S.category) + delta + cats.length) % cats.length];
    $("category").value = S.category;
    setStatus("Category for new marks: " + S.category + " (E gives it to the selected mark).");
  }

  // ------------------------------------------------------------------ keys
  document.addEventListener("keydown", function (e) {
    const tag = (e.target && e.target.tagName) || "";
    if (tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA") {
      if (e.key === "Escape") { e.target.blur(); }
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey || !S.image) { return; }
    const k = e.key;
    let handled = true;
    if (k === "j" || k === "J") { step(+1); }
    else if (k === "k" || k === "K") { step(-1); }
    else if (k === "a" || k === "A") { decide("accepted"); }
    else if (k === "x" || k === "X") { decide("rejected"); }
    else if (k === "Delete" || k === "Backspace") { decide("deleted"); }
    else if (k === "e" || k === "E") { recategorise(); }
    else if (k === "s" || k === "S") { setSize("small"); }
    else if (k === "m" || k === "M") { setSize("medium"); }
    else if (k === "c") { cycleCategory(+1); }
    else if (k === "C") { cycleCategory(-1); }
    else if (k === "t" || k === "T") {
      const st = S.session.stretches;
      setStretch(st[(st.indexOf(S.stretch) + 1) % st.length]);
    }
    else if (k >= "1" && k <= "9") {
      const b = S.image.bands[Number(k) - 1];
      if (b) { toggleBand(b); } else { handled = false; }
    }
    else if (k === "h" || k === "H" || k === "0") { viewer.viewport.goHome(); }
    else if (k === "n" || k === "N") { doneAndNext(); }
    else if (k === "p" || k === "P") { previous(); }
    else if (k === "Escape") { S.selected = null; drawMarks(); renderMarks(); }
    else { handled = false; }
    if (handled) { e.preventDefault(); e.stopPropagation(); }
  }, true);

  // ------------------------------------------------------------------ start
  async function start() {
    try {
      S.session = await api("GET", "/api/session");
    } catch (err) {
      setStatus(err.message, true);
      return;
    }
    const saved = window.localStorage ? localStorage.getItem("spacejunk-reviewer") : null;
    $("reviewer").value = saved || S.session.reviewer;
    $("reviewer").addEventListener("change", function () {
      if (window.localStorage) { localStorage.setItem("spacejunk-reviewer", reviewer()); }
    });
    const sel = $("category");
    for (const c of S.session.categories) { sel.appendChild(el("option", { value: c }, c)); }
    S.category = S.session.categories[0];
    sel.value = S.category;
    sel.addEventListener("change", function () { S.category = sel.value; });
    document.querySelectorAll('input[name="size"]').forEach((r) => r.addEventListener("change", () => setSize(r.value)));
    $("accept").addEventListener("click", () => decide("accepted"));
    $("reject").addEventListener("click", () => decide("rejected"));
    $("delete").addEventListener("click", () => decide("deleted"));
    $("done").addEventListener("click", doneAndNext);
    $("prev").addEventListener("click", previous);
    renderStretches();
    showProgress(S.session.progress);
    await refreshQueue();
    const wanted = decodeURIComponent(location.hash.slice(1));
    let name = S.images.some((x) => x.name === wanted) ? wanted : null;
    if (!name) {
      const next = await api("GET", "/api/next?reviewer=" + encodeURIComponent(reviewer()));
      name = next.name || (S.images.length ? S.images[0].name : null);
    }
    if (name) { await openImage(name); } else { setStatus("No images to review in this folder.", true); }
    window.setInterval(function () { refreshQueue().catch(() => {}); }, 20000);
  }

  // For scripts and tests: the viewer and the page state.
  window.spacejunkReview = {
    viewer: viewer,
    state: S,
    imageToElement: function (x, y) {
      const p = item().imageToViewerElementCoordinates(new OpenSeadragon.Point(x + 0.5, y + 0.5));
      return [p.x, p.y];
    },
    ready: function () {
      return !!(S.image && item() && item().getFullyLoaded() && !S.busy);
    },
  };

  start();
})();
