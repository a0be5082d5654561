// Draw-pad: Pointer Events drawing; live reading of a digit or a whole number through POST /predict/number;
// the chosen digit's inside view through inside.js.
"use strict";

(() => {
  const LINE_WIDTH = 0.07; // stroke width as a fraction of the canvas height
  const INK = "#111111"; // dark ink on a transparent canvas: what the API expects
  const EXPORT_HEIGHT = 200; // px; the export's width follows the canvas's aspect ratio
  const LIVE_DELAY_MS = 150; // at most one live prediction per this interval while drawing
  const TAP_SLOP = 0.01; // a press that moves less than this (canvas heights) is a tap, not a stroke
  const ENDPOINT = "/predict/number?debug=true";
  const CROP_MARGIN = 2; // export px around a digit's box when it is sent alone to look inside

  const canvas = document.querySelector("canvas"); // the page's first canvas is the drawing surface
  const ctx = canvas.getContext("2d");
  const exportCanvas = document.createElement("canvas");
  const cropCanvas = document.createElement("canvas");
  const $ = (id) => document.getElementById(id);
  const ui = {
    result: $("result"), prediction: $("prediction"), confidence: $("confidence"), status: $("status"),
    seen: $("seen"), bars: $("bars"), hint: $("hint"), model: $("model"), curl: $("curl"),
    boxes: $("boxes"), chips: $("chips"), detail: $("detail"), detailTitle: $("detail-title"),
    correct: $("correct"), rightDigit: $("right-digit"), correctSend: $("correct-send"), correctNote: $("correct-note"),
  };

  // Points are [x, y] in canvas heights from the top left: y runs 0..1, x 0..(width / height).
  let strokes = [];
  let active = null; // { id: pointerId, points, start } while a pointer is drawing
  let version = 0; // bumped on every change of the drawing; each request says which drawing it carries
  let seq = 0; // id of the latest request; bumped by Clear/Undo so older answers are ignored
  let inFlight = false;
  let again = false; // the drawing changed while a request was in flight
  let timer = 0;
  let frame = 0;
  let reading = null; // the answer on show: { digits, width, height } (boxes in those export pixels)
  let selected = null; // index of the digit the user chose; null: chosen automatically
  let collecting = false; // the server saves corrected drawings (GET /collect); else they are downloaded

  // ---- Drawing -------------------------------------------------------------------------------

  function paint(c, w, h) {
    c.clearRect(0, 0, w, h);
    c.lineCap = "round";
    c.lineJoin = "round";
    c.lineWidth = LINE_WIDTH * h;
    c.strokeStyle = c.fillStyle = INK;
    for (const pts of strokes) {
      const xy = pts.map(([x, y]) => [x * h, y * h]);
      c.beginPath();
      if (xy.length === 1) {
        c.arc(xy[0][0], xy[0][1], c.lineWidth / 2, 0, 2 * Math.PI);
        c.fill();
        continue;
      }
      // Quadratic curves through the midpoints give smooth strokes from jagged input.
      c.moveTo(xy[0][0], xy[0][1]);
      for (let i = 1; i < xy.length - 1; i++) {
        const mx = (xy[i][0] + xy[i + 1][0]) / 2;
        const my = (xy[i][1] + xy[i + 1][1]) / 2;
        c.quadraticCurveTo(xy[i][0], xy[i][1], mx, my);
      }
      const last = xy[xy.length - 1];
      c.lineTo(last[0], last[1]);
      c.stroke();
    }
  }

  function redraw() {
    if (frame) return;
    frame = requestAnimationFrame(redrawNow);
  }

  function redrawNow() {
    cancelAnimationFrame(frame);
    frame = 0;
    paint(ctx, canvas.width, canvas.height);
  }

  function resize() {
    // Backing store in device pixels keeps strokes crisp on high-DPI screens.
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(canvas.clientWidth * dpr));
    const h = Math.max(1, Math.round(canvas.clientHeight * dpr));
    if (canvas.width !== w || canvas.height !== h) {
      canvas.width = w;
      canvas.height = h;
    }
    redrawNow();
  }

  function toCanvas(e) {
    const r = canvas.getBoundingClientRect();
    const unit = canvas.clientHeight || 1;
    return [(e.clientX - r.left - canvas.clientLeft) / unit, (e.clientY - r.top - canvas.clientTop) / unit];
  }

  function onDown(e) {
    if (active || (e.pointerType === "mouse" && e.button !== 0)) return;
    e.preventDefault();
    canvas.setPointerCapture(e.pointerId);
    const start = toCanvas(e);
    active = { id: e.pointerId, points: [start], start, moved: false };
    strokes.push(active.points);
    changed();
    redraw();
  }

  function onMove(e) {
    if (!active || e.pointerId !== active.id) return;
    const events = (e.getCoalescedEvents && e.getCoalescedEvents()) || [];
    for (const ev of events.length ? events : [e]) {
      const p = toCanvas(ev);
      const q = active.points[active.points.length - 1];
      if (Math.hypot(p[0] - q[0], p[1] - q[1]) > 0.002) active.points.push(p);
      if (Math.hypot(p[0] - active.start[0], p[1] - active.start[1]) > TAP_SLOP) active.moved = true;
    }
    changed();
    redraw();
    if (active.moved) schedulePredict(); // a press that stays put may be a tap on a box
  }

  function onUp(e) {
    if (!active || e.pointerId !== active.id) return;
    const stroke = active;
    active = null;
    const hit = stroke.moved ? -1 : boxAt(stroke.start);
    if (hit >= 0) {
      // A tap on a digit's box chooses that digit; it leaves no dot.
      strokes.pop();
      changed();
      redrawNow();
      select(hit);
      return;
    }
    redrawNow();
    predictNow();
  }

  // ---- Prediction ----------------------------------------------------------------------------

  function exportImage() {
    const height = EXPORT_HEIGHT;
    const aspect = canvas.clientHeight ? canvas.clientWidth / canvas.clientHeight : 1;
    const width = Math.max(1, Math.round(height * aspect));
    exportCanvas.width = width;
    exportCanvas.height = height;
    paint(exportCanvas.getContext("2d"), width, height);
    return { url: exportCanvas.toDataURL("image/png"), width, height };
  }

  function schedulePredict() {
    if (!timer) timer = setTimeout(predictNow, LIVE_DELAY_MS);
  }

  function predictNow() {
    clearTimeout(timer);
    timer = 0;
    predict();
  }

  async function predict() {
    if (!strokes.length) return;
    if (inFlight) {
      again = true; // one request at a time; send the latest drawing when this one is done
      return;
    }
    const id = ++seq;
    const drawing = exportImage();
    inFlight = true;
    ui.result.setAttribute("aria-busy", "true");
    const sent = performance.now();
    try {
      const res = await fetch(ENDPOINT, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          "X-Drawing-Version": String(version),
        },
        body: JSON.stringify({ image: drawing.url }),
      });
      const body = await res.json().catch(() => null);
      if (id !== seq) return; // cleared, undone or superseded since: never show a stale number
      const timing = { server: serverTime(res), roundTrip: performance.now() - sent };
      if (res.ok && isReading(body)) showReading(body, drawing, timing);
      else showError(errorText(res, body));
    } catch (err) {
      if (id === seq) showError("Could not reach the server. Check your connection and try again.");
    } finally {
      inFlight = false;
      if (again) {
        again = false;
        predict();
      }
      ui.result.setAttribute("aria-busy", String(inFlight));
    }
  }

  // The server's own time for the request, in ms, from its Server-Timing header (null if absent).
  function serverTime(res) {
    const found = /dur=([\d.]+)/.exec(res.headers.get("Server-Timing") || "");
    return found ? Number(found[1]) : null;
  }

  function isReading(body) {
    const ok = (d) => d && Number.isInteger(d.digit) && Array.isArray(d.box) && d.box.length === 4;
    return Boolean(body && Array.isArray(body.digits) && body.digits.length && body.digits.every(ok));
  }

  function errorText(res, body) {
    const detail = body && body.detail;
    let text = `the server answered ${res.status} ${res.statusText}`.trim();
    if (typeof detail === "string") text = detail;
    else if (Array.isArray(detail)) text = detail.map((d) => (d && d.msg) || JSON.stringify(d)).join("; ");
    return `Couldn't read the drawing: ${text}`;
  }

  // ---- Showing results -----------------------------------------------------------------------

  const isRefused = (d) => d.is_digit === false;
  const percent = (p) => `${(p * 100).toFixed(1)}%`;
  const ordinal = (i, n) => (n > 1 ? `Part ${i + 1} of ${n}` : "The drawing");

  function current() {
    if (!reading) return -1;
    if (selected !== null && selected < reading.digits.length) return selected;
    const refused = reading.digits.findIndex(isRefused);
    return refused >= 0 ? refused : 0; // a number is read from its first digit
  }

  function select(i) {
    if (!reading || i < 0 || i >= reading.digits.length) return;
    selected = i;
    showDigits();
    // On a phone the bars sit below the fold: bring them into view when asked for.
    const calm = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    ui.detail.scrollIntoView({ block: "nearest", behavior: calm ? "auto" : "smooth" });
  }

  function boxAt([x, y]) {
    if (!reading) return -1;
    const unit = reading.height; // export pixels per canvas height
    return reading.digits.findIndex(({ box: [x0, y0, x1, y1] }) => {
      const px = x * unit;
      const py = y * unit;
      return px >= x0 && px <= x1 && py >= y0 && py <= y1;
    });
  }

  function buildBars() {
    for (let d = 0; d < 10; d++) {
      const li = document.createElement("li");
      li.innerHTML =
        `<span class="label">${d}</span>` +
        `<span class="track" aria-hidden="true"><span class="fill" data-testid="bar-${d}"></span></span>` +
        `<span class="value">–</span>`;
      ui.bars.append(li);
    }
  }

  function setBars(probs, refused = false) {
    const top = probs ? probs.indexOf(Math.max(...probs)) : -1;
    ui.bars.classList.toggle("refused", refused); // a closest guess is not an answer: not in the answer's colour
    [...ui.bars.children].forEach((li, d) => {
      const p = probs ? Math.min(1, Math.max(0, Number(probs[d]) || 0)) : 0;
      li.classList.toggle("top", d === top);
      li.querySelector(".fill").style.width = `${(p * 100).toFixed(2)}%`;
      li.querySelector(".value").textContent = probs ? percent(p) : "–";
      li.setAttribute("aria-label", probs ? `${d}: ${percent(p)}` : `${d}: no prediction`);
    });
  }

  function setStatus(text, kind = "") {
    ui.status.textContent = text;
    ui.status.classList.toggle("error", kind === "error");
    ui.status.classList.toggle("refusal", kind === "refusal");
  }

  function setNumber(text) {
    ui.prediction.textContent = text;
    ui.prediction.classList.toggle("long", text.length > 3);
  }

  function showNothing() {
    reading = null;
    inside.reset();
    setNumber("");
    ui.confidence.textContent = "";
    ui.boxes.replaceChildren();
    ui.chips.replaceChildren();
    ui.chips.hidden = true;
    ui.detailTitle.textContent = "Each digit's probabilities show here.";
    ui.seen.hidden = true;
    ui.seen.removeAttribute("src");
    setBars(null);
    ui.correct.hidden = true;
  }

  function showBlank() {
    showNothing();
    setStatus("Draw a digit or a number to see what the network reads.");
  }

  function showError(message) {
    showNothing();
    setStatus(message, "error");
  }

  function refusalText(refused, n) {
    if (n === 1) return "That does not look like a digit.";
    if (refused.length === 1) return `${ordinal(refused[0], n)} does not look like a digit.`;
    const parts = refused.map((i) => i + 1);
    const list = `${parts.slice(0, -1).join(", ")} and ${parts[parts.length - 1]}`;
    return `Parts ${list} of ${n} do not look like digits.`;
  }

  function showReading(r, drawing, timing) {
    const digits = r.digits;
    const n = digits.length;
    reading = { digits, width: drawing.width, height: drawing.height };
    const refused = digits.flatMap((d, i) => (isRefused(d) ? [i] : []));
    const number = typeof r.number === "string" && !refused.length ? r.number : "";
    setNumber(number);
    const sure = digits.reduce((p, d) => p * (Number(d.confidence) || 0), 1);
    ui.confidence.textContent = number ? `${percent(sure)} confident` : "";
    if (refused.length) setStatus(refusalText(refused, n), "refusal");
    else if (!number) setStatus("The network could not read a number here.", "refusal");
    else if (active) setStatus("Reading as you draw…");
    else if (n > 1) setStatus("Choose a digit to see how sure the network is. Add strokes, or Clear.");
    else setStatus("Add strokes to refine, or Clear to start over.");
    if (r.model) ui.model.textContent = `Model: ${r.model}` + timingText(timing);
    showDigits();
    ui.correct.hidden = n !== 1; // one drawing, one label: a number is not labelled as a whole
    ui.correctNote.textContent = "";
  }

  function timingText(timing) {
    if (!timing || timing.server === null) return "";
    return ` · read in ${timing.server.toFixed(1)} ms on the server, ${Math.round(timing.roundTrip)} ms round trip`;
  }

  function showDigits() {
    const i = current();
    drawBoxes(i);
    buildChips(i);
    showDetail(i);
    inside.refresh();
  }

  // ---- Look inside: the chosen digit, cut from the drawing, for inside.js -------------------------

  function chosenDigit() {
    const i = current();
    if (i < 0 || !strokes.length) return null;
    const d = reading.digits[i];
    const n = reading.digits.length;
    return {
      key: String(i), digit: d.digit, refused: isRefused(d), box: d.box.map(Number),
      width: reading.width, height: reading.height, image: () => digitImage(d.box.map(Number)),
      where: n > 1 ? `Digit ${i + 1} of ${n}` : "The drawing",
    };
  }

  // The drawing inside one digit's box (export pixels, plus CROP_MARGIN), as a PNG data URL.
  function digitImage([x0, y0, x1, y1]) {
    exportImage();
    const left = Math.max(0, Math.floor(x0) - CROP_MARGIN);
    const top = Math.max(0, Math.floor(y0) - CROP_MARGIN);
    const w = Math.max(1, Math.min(exportCanvas.width, Math.ceil(x1) + CROP_MARGIN) - left);
    const h = Math.max(1, Math.min(exportCanvas.height, Math.ceil(y1) + CROP_MARGIN) - top);
    cropCanvas.width = w;
    cropCanvas.height = h;
    cropCanvas.getContext("2d").drawImage(exportCanvas, left, top, w, h, 0, 0, w, h);
    return cropCanvas.toDataURL("image/png");
  }

  function drawBoxes(chosen) {
    const { digits, width, height } = reading;
    ui.boxes.replaceChildren(
      ...digits.map((d, i) => {
        const [x0, y0, x1, y1] = d.box.map(Number);
        const box = document.createElement("div");
        box.className = "box";
        box.classList.toggle("refused", isRefused(d));
        box.classList.toggle("chosen", i === chosen);
        box.setAttribute("data-testid", `box-${i}`);
        box.style.left = `${(100 * x0) / width}%`;
        box.style.top = `${(100 * y0) / height}%`;
        box.style.width = `${(100 * (x1 - x0)) / width}%`;
        box.style.height = `${(100 * (y1 - y0)) / height}%`;
        const tag = document.createElement("span");
        tag.className = "tag";
        tag.classList.toggle("inside", y0 / height < 0.14); // no room above the box
        tag.setAttribute("data-testid", `box-tag-${i}`);
        tag.textContent = isRefused(d) ? "?" : String(d.digit);
        tag.title = digitLabel(d, i, digits.length);
        tag.addEventListener("click", () => select(i));
        box.append(tag);
        return box;
      }),
    );
  }

  function digitLabel(d, i, n) {
    const where = n > 1 ? `Digit ${i + 1} of ${n}` : "Digit";
    if (isRefused(d)) return `${ordinal(i, n)}: not a digit (closest guess ${d.digit})`;
    return `${where}: ${d.digit}, ${percent(Number(d.confidence) || 0)}`;
  }

  function buildChips(chosen) {
    const { digits } = reading;
    const focused = ui.chips.contains(document.activeElement)
      ? [...ui.chips.children].indexOf(document.activeElement)
      : -1;
    ui.chips.hidden = digits.length < 2 && !digits.some(isRefused);
    ui.chips.replaceChildren(
      ...digits.map((d, i) => {
        const chip = document.createElement("button");
        chip.type = "button";
        chip.className = "chip";
        chip.classList.toggle("refused", isRefused(d));
        chip.setAttribute("data-testid", `digit-${i}`);
        chip.setAttribute("aria-pressed", String(i === chosen));
        chip.setAttribute("aria-label", digitLabel(d, i, digits.length));
        chip.textContent = isRefused(d) ? "?" : String(d.digit);
        chip.addEventListener("click", () => select(i));
        return chip;
      }),
    );
    if (focused >= 0 && ui.chips.children[focused]) ui.chips.children[focused].focus();
  }

  function showDetail(i) {
    const { digits } = reading;
    const d = digits[i];
    const n = digits.length;
    if (isRefused(d)) {
      ui.detailTitle.textContent = `${ordinal(i, n)} is not a digit. Closest guess: ${d.digit} (not a reading).`;
    } else {
      ui.detailTitle.textContent = `${n > 1 ? `Digit ${i + 1} of ${n}` : "The digit"}: ${d.digit}, ${percent(
        Number(d.confidence) || 0,
      )}`;
    }
    ui.detailTitle.classList.toggle("refused", isRefused(d));
    const probs = Array.isArray(d.probabilities) && d.probabilities.length === 10 ? d.probabilities : null;
    setBars(probs, isRefused(d));
    if (typeof d.debug_image === "string" && d.debug_image.startsWith("data:image/")) {
      ui.seen.src = d.debug_image;
      ui.seen.hidden = false;
    } else {
      ui.seen.hidden = true;
    }
  }

  // ---- Correcting a reading -----------------------------------------------------------------
  // The drawing with its right label goes to POST /collect when the server collects, else it is
  // downloaded as <label>/<UTC time>.png, the folder layout scripts/finetune.py reads.

  async function checkCollecting() {
    try {
      const res = await fetch("/collect", { headers: { Accept: "application/json" } });
      const body = await res.json();
      setCollecting(res.ok && body && body.enabled === true);
    } catch (err) {
      setCollecting(false);
    }
  }

  function setCollecting(on) {
    collecting = on;
    ui.correctSend.textContent = on ? "Save drawing" : "Download drawing";
    ui.correctSend.title = on
      ? "Saves the drawing on the server with the right answer, to fine-tune the network"
      : "Downloads the drawing named after the right answer, to fine-tune the network with";
  }

  const stamp = () => new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");

  async function correct(e) {
    e.preventDefault();
    const label = ui.rightDigit.value;
    if (!label) {
      ui.correctNote.textContent = "Choose the right digit first.";
      ui.rightDigit.focus();
      return;
    }
    const drawing = exportImage();
    if (collecting) {
      const res = await fetch(`/collect?digit=${encodeURIComponent(label)}`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ image: drawing.url }),
      }).catch(() => null);
      const body = res ? await res.json().catch(() => null) : null;
      if (res && res.status === 201 && body) {
        ui.correctNote.textContent = `Saved as ${body.path}. Thank you!`;
        return;
      }
      if (!res || res.status !== 404) {
        ui.correctNote.textContent = `Not saved: ${(body && body.detail) || "the server could not be reached"}`;
        return;
      }
      setCollecting(false); // turned off since the page loaded: download instead
    }
    const name = `${label}/${stamp()}.png`;
    const link = document.createElement("a");
    link.href = drawing.url;
    link.download = name;
    link.click();
    ui.correctNote.textContent = `Downloaded as ${name}: keep it in the folder ${label}/ of your images.`;
  }

  // ---- Clear and undo ------------------------------------------------------------------------

  function changed() {
    version++;
    canvas.setAttribute("data-drawing-version", String(version));
    ui.hint.classList.toggle("gone", strokes.length > 0);
    $("download").disabled = strokes.length === 0;
  }

  // ---- Download this drawing: the PNG the page sends, so the footer's commands work on it ---------

  function downloadDrawing() {
    if (!strokes.length) return;
    exportImage();
    exportCanvas.toBlob((blob) => {
      if (!blob) return;
      const link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = "drawing.png";
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 1000);
    }, "image/png");
  }

  function restart() {
    seq++; // any answer still on its way is now stale
    again = false;
    clearTimeout(timer);
    timer = 0;
    active = null;
    changed();
    redrawNow();
    if (strokes.length) predictNow();
    else showBlank();
  }

  function clear() {
    strokes = [];
    selected = null;
    restart();
  }

  function undo() {
    strokes.pop();
    restart();
  }

  function onKey(e) {
    const t = e.target;
    if (e.defaultPrevented || (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName)))) return;
    if (e.key === "Escape" || e.key === "Delete") {
      e.preventDefault();
      clear();
    } else if ((e.ctrlKey || e.metaKey) && !e.shiftKey && !e.altKey && e.key.toLowerCase() === "z") {
      e.preventDefault();
      undo();
    }
  }

  // ---- Wiring --------------------------------------------------------------------------------

  const inside = window.LookInside({ digit: chosenDigit, bars: ui.bars, surface: canvas.parentElement });
  buildBars();
  showBlank();
  ui.curl.textContent =
    `curl -s -X POST '${location.origin}${ENDPOINT}' \\\n` +
    `  -H 'Content-Type: application/json' \\\n` +
    `  -d "{\\"image\\": \\"data:image/png;base64,$(base64 -w0 drawing.png)\\"}"`;
  $("curl-file").textContent = `curl -s -F file=@drawing.png '${location.origin}/predict?debug=true'`;

  canvas.addEventListener("pointerdown", onDown);
  canvas.addEventListener("pointermove", onMove);
  canvas.addEventListener("pointerup", onUp);
  canvas.addEventListener("pointercancel", onUp);
  canvas.addEventListener("lostpointercapture", onUp);
  canvas.addEventListener("contextmenu", (e) => e.preventDefault());
  $("clear").addEventListener("click", clear);
  $("undo").addEventListener("click", undo);
  $("download").addEventListener("click", downloadDrawing);
  ui.correct.addEventListener("submit", correct);
  checkCollecting();
  document.addEventListener("keydown", onKey);
  new ResizeObserver(resize).observe(canvas);
  window.addEventListener("resize", resize);
  resize();
})();
