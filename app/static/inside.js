// Look inside: the chosen digit through POST /explain, its layers' feature maps and where the network looked.
// Nothing is asked of the server while the view is closed. app.js creates it and says when the reading changes.
"use strict";

window.LookInside = (options) => {
  const ENDPOINT = "/explain";
  // chosenDigit(): the digit to explain ({ key, digit, refused, box, width, height, where, image() }) or null
  const { digit: chosenDigit, bars, surface } = options;
  const $ = (id) => document.getElementById(id);
  const ui = {
    toggle: $("inside-toggle"), section: $("inside"), status: $("inside-status"), heatmap: $("heatmap"),
    caption: $("heatmap-caption"), layers: $("layers"), overlay: $("heat-overlay"),
  };
  let open = false;
  let target = null; // the digit asked about with a bar; null: the digit read
  let key = ""; // which digit of which drawing is on show: a new one forgets the target
  let seq = 0;
  let inFlight = false;
  let again = false;

  // ---- Asking ----------------------------------------------------------------------------------

  function refresh() {
    if (!open) return;
    const d = chosenDigit();
    if (!d) {
      showNothing("Draw a digit to look inside the network.");
      return;
    }
    if (d.key !== key) {
      key = d.key;
      target = null;
    }
    ask(d);
  }

  async function ask(d) {
    if (inFlight) {
      again = true; // one request at a time; the latest drawing goes when this one is done
      return;
    }
    const id = ++seq;
    inFlight = true;
    ui.section.setAttribute("aria-busy", "true");
    try {
      const query = target === null ? "" : `?target=${target}`;
      const res = await fetch(ENDPOINT + query, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ image: d.image() }), // the drawing is cut out only when it is sent
      });
      const body = await res.json().catch(() => null);
      if (id !== seq || !open) return;
      if (res.ok && isExplanation(body)) show(body, d);
      else showNothing(`Couldn't look inside: ${(body && typeof body.detail === "string" && body.detail) || res.status}`);
    } catch (err) {
      if (id === seq) showNothing("Could not reach the server to look inside.");
    } finally {
      inFlight = false;
      if (again) {
        again = false;
        refresh();
      }
      ui.section.setAttribute("aria-busy", String(inFlight));
    }
  }

  function isExplanation(b) {
    const grid = (g) => Array.isArray(g) && g.length === 28 && g.every((r) => Array.isArray(r) && r.length === 28);
    return Boolean(b && grid(b.input) && grid(b.heatmap) && Array.isArray(b.layers) && Number.isInteger(b.target));
  }

  // ---- Showing ---------------------------------------------------------------------------------

  // Heat 0..1 -> a warm colour, transparent where there is none.
  const heatColour = (h) => [255, Math.round(40 + 200 * h), Math.round(30 * (1 - h))];

  function paintHeatmap(input, heat) {
    const c = ui.heatmap.getContext("2d");
    const img = c.createImageData(28, 28);
    for (let y = 0; y < 28; y++) {
      for (let x = 0; x < 28; x++) {
        const i = 4 * (28 * y + x);
        const grey = 20 + 0.4 * input[y][x];
        const h = Math.max(0, Math.min(1, Number(heat[y][x]) || 0));
        const a = Math.sqrt(h); // a gamma: the strongest evidence is a few pixels, the rest should still show
        const [r, g, b] = heatColour(h);
        img.data[i] = Math.round(grey * (1 - a) + r * a);
        img.data[i + 1] = Math.round(grey * (1 - a) + g * a);
        img.data[i + 2] = Math.round(grey * (1 - a) + b * a);
        img.data[i + 3] = 255;
      }
    }
    c.putImageData(img, 0, 0);
  }

  // The same heat, faintly, over the drawing: the 28x28 field placed so that its ink's box lands on the
  // digit's box on the canvas (the MNIST fit scales the ink's longer side and keeps its aspect).
  function paintOverlay(input, heat, d) {
    const ink = inkBox(input);
    if (!ink) {
      ui.overlay.hidden = true;
      return;
    }
    const [x0, y0, x1, y1] = d.box;
    const [ix0, iy0, ix1, iy1] = ink;
    const tall = iy1 - iy0 >= ix1 - ix0;
    const scale = tall ? (y1 - y0) / (iy1 - iy0) : (x1 - x0) / (ix1 - ix0);
    const left = x0 - ix0 * scale;
    const top = y0 - iy0 * scale;
    Object.assign(ui.overlay.style, {
      left: `${(100 * left) / d.width}%`,
      top: `${(100 * top) / d.height}%`,
      width: `${(100 * 28 * scale) / d.width}%`,
      height: `${(100 * 28 * scale) / d.height}%`,
    });
    const c = ui.overlay.getContext("2d");
    const img = c.createImageData(28, 28);
    for (let y = 0; y < 28; y++) {
      for (let x = 0; x < 28; x++) {
        const h = Math.max(0, Math.min(1, Number(heat[y][x]) || 0));
        const [r, g, b] = heatColour(h);
        img.data.set([r, g, b, Math.round(255 * Math.sqrt(h))], 4 * (28 * y + x));
      }
    }
    c.putImageData(img, 0, 0);
    ui.overlay.hidden = false;
  }

  // [x0, y0, x1, y1] of the input's ink (x1, y1 exclusive), or null for a blank input.
  function inkBox(input) {
    let box = null;
    input.forEach((row, y) =>
      row.forEach((v, x) => {
        if (v <= 0) return;
        box = box ? [Math.min(box[0], x), Math.min(box[1], y), Math.max(box[2], x + 1), Math.max(box[3], y + 1)]
          : [x, y, x + 1, y + 1];
      }),
    );
    return box;
  }

  function showLayers(layers) {
    const shown = new Set();
    for (const layer of layers) {
      if (typeof layer.name !== "string" || typeof layer.image !== "string" || !layer.image.startsWith("data:image/")) continue;
      const id = `layer-${layer.name}`;
      shown.add(id);
      let figure = ui.layers.querySelector(`[data-testid="${id}"]`);
      if (!figure) {
        figure = document.createElement("figure");
        figure.className = `layer layer-${layer.name}`;
        figure.setAttribute("data-testid", id);
        figure.append(document.createElement("img"), document.createElement("figcaption"));
        ui.layers.append(figure);
      }
      const shape = Array.isArray(layer.shape) ? layer.shape.join("×") : "";
      const [img, caption] = figure.children;
      img.src = layer.image;
      img.alt = layer.shape && layer.shape.length === 3
        ? `${layer.name}: ${layer.shape[0]} feature maps of ${layer.shape[1]}×${layer.shape[2]}, strongest first`
        : `${layer.name}: ${shape} units, strongest first`;
      caption.textContent = `${layer.name} · ${shape}`;
    }
    [...ui.layers.children].forEach((f) => f.hidden = !shown.has(f.getAttribute("data-testid")));
  }

  function show(body, d) {
    paintHeatmap(body.input, body.heatmap);
    paintOverlay(body.input, body.heatmap, d);
    showLayers(body.layers);
    const read = d.refused ? `its closest guess, ${body.target}` : `${body.target}, the digit read`;
    const asked = target === null || target === d.digit ? read : `${body.target} (why not a ${body.target}?)`;
    ui.caption.textContent = `Where it looked for ${body.target}`;
    ui.status.textContent = `${d.where}: where the network looked for ${asked}.`;
    ui.heatmap.setAttribute("aria-label", `The 28 by 28 input, with where the network looked for ${body.target} over it`);
    markBars();
  }

  function showNothing(text) {
    ui.status.textContent = text;
    ui.heatmap.getContext("2d").clearRect(0, 0, 28, 28);
    ui.overlay.hidden = true;
    [...ui.layers.children].forEach((f) => (f.hidden = true));
    markBars();
  }

  // ---- Bars: while open, each probability bar asks about its digit -------------------------------

  function markBars() {
    const d = open ? chosenDigit() : null;
    const asked = target === null && d ? d.digit : target;
    [...bars.children].forEach((li, digit) => {
      if (open && d) {
        li.setAttribute("role", "button");
        li.tabIndex = 0;
        li.setAttribute("aria-pressed", String(digit === asked));
      } else {
        li.removeAttribute("role");
        li.removeAttribute("tabindex");
        li.removeAttribute("aria-pressed");
      }
    });
  }

  function choose(e) {
    if (!open || !chosenDigit()) return;
    const li = e.target.closest("li");
    if (!li || li.parentElement !== bars) return;
    if (e.type === "keydown") {
      if (e.key !== "Enter" && e.key !== " ") return;
      e.preventDefault();
    }
    target = [...bars.children].indexOf(li);
    markBars();
    refresh();
  }

  // ---- Opening and closing ---------------------------------------------------------------------

  function setOpen(value) {
    open = value;
    seq++; // an answer on its way is now stale
    ui.toggle.setAttribute("aria-expanded", String(open));
    ui.toggle.textContent = open ? "Close the inside view" : "Look inside the network";
    ui.section.hidden = !open;
    surface.classList.toggle("looking", open);
    if (open) {
      refresh();
      const calm = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
      ui.section.scrollIntoView({ block: "nearest", behavior: calm ? "auto" : "smooth" });
    } else {
      ui.overlay.hidden = true;
      markBars();
    }
  }

  ui.toggle.addEventListener("click", () => setOpen(!open));
  bars.addEventListener("click", choose);
  bars.addEventListener("keydown", choose);
  showNothing("");

  return {
    refresh, // the reading or the chosen digit changed
    reset() { // the drawing was cleared
      seq++;
      again = false;
      key = "";
      target = null;
      if (open) showNothing("Draw a digit to look inside the network.");
    },
    isOpen: () => open,
  };
};
