// game-ai-sandbox replay page: draws a trace (docs/replay.md) on a canvas, as `sandbox watch` draws it.
// Plain JavaScript, no library, no network. Text from the trace reaches the page only through textContent,
// option labels and canvas fillText: nothing from it is parsed as HTML or run as code.
(function () {
  "use strict";
  var MAX_BYTES = Number(document.body.getAttribute("data-max-bytes")) || 16777216;
  var SPEEDS = [0.25, 0.5, 1, 2, 4, 8];
  var DUEL_MODES = ["bars", "bars + hitboxes", "game only"];
  var STEALTH_MODES = ["all", "threat map", "hiding spots", "safe path", "guard cones only"];
  var STEALTH = {
    floor: [236, 233, 224], wall: [54, 58, 68], watched: [246, 196, 120], watched_next: [250, 224, 178],
    goal: [92, 178, 104], start: [180, 200, 230], player: [40, 96, 200], guard: [196, 52, 52],
    grid: [210, 206, 196], path: [40, 96, 200], threat: [140, 40, 180], hiding: [40, 160, 90]
  };
  var STICK_LABELS = ["neu", "up", "u-f", "fwd", "d-f", "dn", "d-b", "back", "u-b"];
  var BUTTON_LABELS = ["none", "light", "heavy", "spec"];
  var STEALTH_LABELS = ["stay", "N", "S", "E", "W"];
  var CONTROLS = "Space pause  Right step  Left back  +/- speed  R restart  Tab overlay";
  var FONT = "Helvetica, Arial, sans-serif";

  var $ = function (id) { return document.getElementById(id); };
  var canvas = $("view"), ctx = canvas.getContext("2d");
  var state = { trace: null, episodes: [], ep: 0, frame: 0, playing: false, speed: 1, acc: 0, hold: 0, last: null,
                mode: 0, error: null };

  function rgb(c, a) { return a === undefined ? "rgb(" + c[0] + "," + c[1] + "," + c[2] + ")"
                                              : "rgba(" + c[0] + "," + c[1] + "," + c[2] + "," + a + ")"; }
  function shade(c, k) { return c.map(function (v) { return Math.max(0, Math.min(255, Math.trunc(v * k))); }); }
  function isInt(v) { return typeof v === "number" && Number.isFinite(v) && Math.floor(v) === v; }
  function need(ok, msg) { if (!ok) { throw new Error(msg); } }

  // ---- checking an untrusted trace ------------------------------------------------------------------------
  function intList(v, n, what) {
    need(Array.isArray(v) && (n === null || v.length >= n) && v.every(isInt), what + " must be a list of integers");
  }
  function checkDuel(ep, k) {
    var w = "episode " + k + ": ";
    var c = ep.constants;
    need(c && typeof c === "object", w + "'constants' is missing");
    ["width", "height", "floor", "max_health", "half_width", "head_radius"].forEach(function (n) {
      need(isInt(c[n]) && c[n] >= 0 && c[n] <= 4096, w + "constants." + n + " must be an integer in 0..4096");
    });
    need(Array.isArray(c.joints) && c.joints.length === 11, w + "constants.joints must name 11 joints");
    need(Array.isArray(c.colors) && c.colors.length === 2, w + "constants.colors must hold 2 colours");
    c.colors.forEach(function (col) { intList(col, 3, w + "a colour"); });
    need(c.projectile && isInt(c.projectile.half_width) && isInt(c.projectile.box_low) &&
         isInt(c.projectile.box_high) && isInt(c.projectile.reach), w + "constants.projectile is incomplete");
    need(Array.isArray(c.move_names) && Array.isArray(c.state_names), w + "move and state names are missing");
    need(Array.isArray(ep.names) && ep.names.length === 2, w + "'names' must hold the two fighters' names");
    need(Array.isArray(ep.poses) && ep.poses.length > 0, w + "'poses' must be a list of poses");
    ep.poses.forEach(function (p) { intList(p, 22, w + "a pose"); });
    need(Array.isArray(ep.score) && ep.score.length === 3 && ep.score.every(isInt), w + "'score' must be 3 integers");
    ep.frames.forEach(function (f, i) {
      need(isInt(f.t), w + "frame " + i + ": 't' must be an integer");
      need(Array.isArray(f.f) && f.f.length === 2, w + "frame " + i + ": 'f' must hold two fighters");
      f.f.forEach(function (row) {
        intList(row, 19, w + "frame " + i + ": a fighter");
        need(row[3] >= 0 && row[3] < ep.poses.length, w + "frame " + i + ": a pose index is out of range");
      });
      need(Array.isArray(f.p) && f.p.length === 2, w + "frame " + i + ": 'p' must hold two projectiles");
      f.p.forEach(function (p) { if (p !== null) { intList(p, 2, w + "frame " + i + ": a projectile"); } });
      if (f.e !== undefined) {
        need(Array.isArray(f.e), w + "frame " + i + ": 'e' must be a list");
        f.e.forEach(function (e) {
          need(Array.isArray(e) && e.length === 5 && typeof e[0] === "string" && (e[1] === 0 || e[1] === 1) &&
               isInt(e[2]) && isInt(e[3]) && isInt(e[4]), w + "frame " + i + ": a bad event");
        });
      }
      if (f.d !== undefined) {
        var d = f.d;
        need(d && Array.isArray(d.c) && d.c.length === 2 && Array.isArray(d.p) && d.p.length === 2 &&
             Array.isArray(d.s) && d.s.length === 2, w + "frame " + i + ": a bad decision");
        d.c.forEach(function (c2) { intList(c2, 2, w + "frame " + i + ": a chosen input"); });
        d.p.forEach(function (side) {
          need(Array.isArray(side) && side.length === 2, w + "frame " + i + ": a bad distribution");
          intList(side[0], 9, w + "frame " + i + ": stick probabilities");
          intList(side[1], 4, w + "frame " + i + ": button probabilities");
        });
      }
    });
  }
  function checkStealth(ep, k) {
    var w = "episode " + k + ": ";
    var L = ep.level;
    need(isInt(L.height) && isInt(L.width) && L.height > 0 && L.width > 0 && L.height * L.width <= 65536,
         w + "the level's height and width must be positive integers (at most 65536 cells)");
    var n = L.height * L.width;
    need(isInt(L.period) && L.period > 0 && L.period <= 100000, w + "'period' must be a positive integer");
    need(isInt(L.cell_px) && L.cell_px > 0 && L.cell_px <= 64, w + "'cell_px' must be in 1..64");
    need(Array.isArray(L.walls) && L.walls.length === L.height &&
         L.walls.every(function (r) { return typeof r === "string" && r.length === L.width; }),
         w + "'walls' must be " + L.height + " rows of " + L.width + " characters");
    var cell = function (v) { return isInt(v) && v >= 0 && v < n; };
    need(cell(L.start) && cell(L.goal), w + "start and goal must be cells of the level");
    need(Array.isArray(L.watched) && L.watched.length === L.period &&
         L.watched.every(function (p) { return Array.isArray(p) && p.every(cell); }),
         w + "'watched' must list the watched cells of each phase");
    need(Array.isArray(L.guards) && L.guards.length === L.period && L.guards.every(function (p) {
      return Array.isArray(p) && p.every(function (g) { return Array.isArray(g) && cell(g[0]) &&
                                                        typeof g[1] === "number" && Number.isFinite(g[1]); });
    }), w + "'guards' must give each phase's guards as [cell, facing]");
    intList(L.threat, n, w + "'threat'");
    intList(L.hiding, n, w + "'hiding'");
    ep.frames.forEach(function (f, i) {
      need(cell(f.c) && isInt(f.ph) && f.ph >= 0 && f.ph < L.period && isInt(f.s),
           w + "frame " + i + ": 'c', 'ph' and 's' must be a cell, a phase and a step");
      if (f.path !== undefined) { need(Array.isArray(f.path) && f.path.every(cell), w + "frame " + i + ": a bad path"); }
      if (f.pr !== undefined) { intList(f.pr, 5, w + "frame " + i + ": 'pr'"); }
      if (f.a !== undefined) { need(isInt(f.a) && f.a >= 0 && f.a < 5, w + "frame " + i + ": 'a' must be 0..4"); }
    });
  }
  function checkTrace(t) {
    need(t && typeof t === "object" && !Array.isArray(t), "the trace is not a JSON object");
    need(t.format === "game-ai-sandbox-trace", "'format' is not 'game-ai-sandbox-trace'");
    need(t.version === 1, "version " + JSON.stringify(t.version) + " is not supported (this page reads version 1)");
    need(Array.isArray(t.episodes) && t.episodes.length > 0 && t.episodes.length <= 200,
         "'episodes' must be a list of 1 to 200 episodes");
    t.episodes.forEach(function (ep, k) {
      need(ep && typeof ep === "object", "episode " + k + " is not an object");
      need(ep.game === "duel" || ep.game === "stealth", "episode " + k + ": 'game' must be duel or stealth");
      need(typeof ep.title === "string", "episode " + k + ": 'title' must be text");
      need(Array.isArray(ep.frames) && ep.frames.length > 0 && ep.frames.length <= 100000 &&
           ep.frames.every(function (f) { return f && typeof f === "object"; }),
           "episode " + k + ": 'frames' must be a list of 1 to 100000 objects");
      if (ep.game === "duel") { checkDuel(ep, k); } else {
        need(ep.level && typeof ep.level === "object", "episode " + k + ": 'level' is missing");
        checkStealth(ep, k);
      }
    });
    return t;
  }

  // ---- what each frame shows, computed once per episode -----------------------------------------------------
  function prepare(ep) {
    var n = ep.frames.length;
    ep.decision = new Array(n);
    if (ep.game !== "duel") {
      return ep;
    }
    ep.hits = new Array(n); ep.blocks = new Array(n); ep.moves = [[], []];
    var hits = [0, 0], blocks = [0, 0], lastD = -1, prev = [[0, 0], [0, 0]];
    ep.frames.forEach(function (f, i) {
      if (f.d) { lastD = i; }
      ep.decision[i] = lastD;
      (f.e || []).forEach(function (e) {
        if (e[0] === "hit" || e[0] === "throw") { hits[e[1]] += 1; } else if (e[0] === "block") { blocks[e[1]] += 1; }
      });
      ep.hits[i] = hits.slice(); ep.blocks[i] = blocks.slice();
      f.f.forEach(function (row, s) {
        var move = row[5], fr = row[6];
        if (move && (move !== prev[s][0] || fr < prev[s][1])) {
          ep.moves[s].push([i, String(ep.constants.move_names[move] || "move " + move)]);
        }
        prev[s] = [move, fr];
      });
    });
    return ep;
  }

  // ---- drawing helpers --------------------------------------------------------------------------------------
  function text(s, x, y, col, size, bold) {
    ctx.font = (bold ? "bold " : "") + (size || 12) + "px " + FONT;
    ctx.textBaseline = "top";
    ctx.fillStyle = rgb(col || [230, 230, 230]);
    ctx.fillText(String(s), x, y);
    return (size || 12) + 2;
  }
  function rect(x, y, w, h, col) { ctx.fillStyle = rgb(col); ctx.fillRect(x, y, w, h); }
  function frameRect(x, y, w, h, col, width) {
    ctx.strokeStyle = rgb(col); ctx.lineWidth = width;
    ctx.strokeRect(x + width / 2, y + width / 2, w - width, h - width);
  }
  function disc(x, y, r, col) { ctx.beginPath(); ctx.arc(x, y, r, 0, 2 * Math.PI); ctx.fillStyle = rgb(col); ctx.fill(); }
  function ring(x, y, r, col, width) {
    ctx.beginPath(); ctx.arc(x, y, r - width / 2, 0, 2 * Math.PI); ctx.strokeStyle = rgb(col); ctx.lineWidth = width;
    ctx.stroke();
  }
  function line(pts, col, width) {
    ctx.beginPath(); ctx.moveTo(pts[0][0], pts[0][1]);
    for (var i = 1; i < pts.length; i++) { ctx.lineTo(pts[i][0], pts[i][1]); }
    ctx.strokeStyle = rgb(col); ctx.lineWidth = width; ctx.lineCap = "butt"; ctx.lineJoin = "round"; ctx.stroke();
  }
  function bars(x, y, w, h, probs, labels, col, chosen) {
    var n = labels.length, slot = w / n, barH = h - 16;
    line([[x, y + barH + 0.5], [x + w, y + barH + 0.5]], [90, 90, 100], 1);
    for (var k = 0; k < n; k++) {
      var p = k < probs.length ? probs[k] / 1000 : 0;
      var bx = Math.trunc(x + k * slot + 2), bw = Math.max(2, Math.trunc(slot - 4));
      var fill = Math.round(barH * Math.min(Math.max(p, 0), 1));
      rect(bx, y, bw, barH, [50, 52, 64]);
      if (fill) { rect(bx, y + barH - fill, bw, fill, col); }
      if (chosen === k) { frameRect(bx - 1, y - 1, bw + 2, barH + 2, [255, 255, 255], 1); }
      ctx.font = "11px " + FONT;
      var tw = ctx.measureText(labels[k]).width;
      text(labels[k], Math.trunc(x + k * slot + slot / 2 - tw / 2), y + barH + 2, [200, 200, 210], 11);
    }
  }

  // ---- the duel -------------------------------------------------------------------------------------------
  function drawFighter(ep, row, col) {
    var C = ep.constants, F = C.floor, pose = ep.poses[row[3]], J = {};
    C.joints.forEach(function (name, i) { J[name] = [row[0] + pose[2 * i] * row[2], F - (row[1] + pose[2 * i + 1])]; });
    var body = row[11] > 0 ? shade(col, 1.25) : col, back = shade(body, 0.6), outline = [16, 16, 22];
    function limb(a, b, m, colour, width) {
      var pts = [J[a], J[b], J[m]];
      line(pts, outline, width + 4); line(pts, colour, width);
      disc(pts[1][0], pts[1][1], Math.trunc(width / 2), colour); disc(pts[2][0], pts[2][1], Math.trunc(width / 2), colour);
    }
    limb("hip", "b_knee", "b_foot", back, 8);
    limb("neck", "b_elbow", "b_hand", back, 7);
    line([J.hip, J.neck], outline, 17); line([J.hip, J.neck], body, 13);
    disc(J.hip[0], J.hip[1], 7, body); disc(J.neck[0], J.neck[1], 7, body);
    limb("hip", "f_knee", "f_foot", body, 8);
    var hx = J.head[0], hy = J.head[1], R = C.head_radius;
    disc(hx, hy, R + 2, outline); disc(hx, hy, R, body);
    if (row[11] === 2) { line([[hx - 4, hy - 3], [hx + 4, hy - 3]], outline, 2); } else {
      var ex = hx + row[2] * 5;
      if (row[11] === 1) { line([[ex - 3, hy - 2], [ex + 3, hy - 2]], [255, 255, 255], 2); } else { disc(ex, hy - 2, 3, [255, 255, 255]); }
    }
    limb("neck", "f_elbow", "f_hand", body, 7);
    if (row[12] >= 0) {
      var tip = J[C.joints[row[12]]];
      disc(tip[0], tip[1], 7, row[13] ? [255, 240, 150] : [255, 255, 255]);
      ring(tip[0], tip[1], 7, [255, 120, 60], 2);
    }
    if (row[14] > 0) {
      disc(J.f_hand[0], J.f_hand[1], row[14], [255, 220, 110]);
      disc(J.f_hand[0], J.f_hand[1], Math.max(Math.trunc(row[14] / 2), 2), [255, 255, 255]);
    }
    if (row[9]) {
      var gx = row[0] + row[2] * (C.half_width + 8), top = F - row[1] - row[10];
      ctx.beginPath(); ctx.roundRect(gx - 5 + 1, top + 1, 8, row[10] - 2, 5);
      ctx.strokeStyle = rgb([150, 200, 255]); ctx.lineWidth = 2; ctx.stroke();
    }
  }
  function drawProjectile(ep, p, col, owner) {
    var C = ep.constants, P = C.projectile, y = C.floor - Math.floor((P.box_low + P.box_high) / 2);
    var dir = p[1] > 0 ? 1 : -1;
    for (var k = 6; k > 0; k--) {
      var tx = p[0] - dir * k * 7;
      if ((tx - owner[0]) * dir < C.half_width + P.reach) { continue; }
      disc(tx, y, Math.max(P.half_width - k, 3), shade([255, 200, 90], 1 - 0.13 * k));
    }
    disc(p[0], y, P.half_width, [255, 230, 120]);
    disc(p[0], y, Math.trunc(P.half_width / 2), col);
    disc(p[0] + dir * 3, y - 2, 3, [255, 255, 255]);
  }
  function drawSparks(ep, i) {
    var list = [];
    for (var j = Math.max(0, i - 9); j <= i; j++) {
      (ep.frames[j].e || []).forEach(function (e) { list.push([e, i - j]); });
    }
    list.slice(-16).forEach(function (item) {
      var e = item[0], age = item[1], x = e[2], y = e[3];
      if (e[0] === "hit" || e[0] === "throw") {
        var col = e[0] === "hit" ? [255, 240, 90] : [255, 130, 255];
        var rOut = 10 + 3 * age, rIn = 3 + age;
        for (var k = 0; k < 10; k++) {
          var a = k * Math.PI / 5 + 0.3;
          line([[x + rIn * Math.cos(a), y + rIn * Math.sin(a)], [x + rOut * Math.cos(a), y + rOut * Math.sin(a)]], col,
               k % 2 === 0 ? 3 : 2);
        }
        if (age < 4) { disc(x, y, 9 - 2 * age, [255, 255, 255]); }
      } else if (e[0] === "block") {
        var r = 16 + 2 * age, start = e[4] > 0 ? Math.PI - Math.PI / 2.5 : -Math.PI / 2.5;
        // pygame's angles run counter-clockwise with y up; the canvas's clockwise with y down
        ctx.beginPath(); ctx.arc(x, y, r - 2, -(start + 2 * Math.PI / 2.5), -start);
        ctx.strokeStyle = rgb([120, 200, 255]); ctx.lineWidth = 4; ctx.stroke();
        ctx.beginPath(); ctx.arc(x, y, r - 6, -(start + 2 * Math.PI / 2.5), -start);
        ctx.strokeStyle = rgb([230, 245, 255]); ctx.lineWidth = 2; ctx.stroke();
      } else {
        ring(x, y, 8 + 3 * age, [240, 240, 255], 3);
      }
    });
  }
  function drawDuel(ep, i, opts) {
    var C = ep.constants, f = ep.frames[i], W = C.width, H = C.height, F = C.floor;
    canvas.width = W; canvas.height = H + 206;
    rect(0, 0, W, H, [24, 26, 36]);
    rect(0, F, W, H - F, [60, 56, 52]);
    line([[0, F], [W, F]], [90, 84, 78], 2);
    f.f.forEach(function (row) {
      var w = Math.max(36 - Math.floor(row[1] / 6), 14);
      ctx.beginPath(); ctx.ellipse(row[0], F, w, 4, 0, 0, 2 * Math.PI); ctx.fillStyle = rgb([44, 41, 38]); ctx.fill();
    });
    f.p.forEach(function (p, s) { if (p) { drawProjectile(ep, p, C.colors[s], f.f[s]); } });
    f.f.forEach(function (row, s) { drawFighter(ep, row, C.colors[s]); });
    drawSparks(ep, i);
    // the HUD
    var labels = ["P1", "P2"];
    f.f.forEach(function (row, s) {
      var w = 320, x = s === 0 ? 20 : W - 20 - w;
      rect(x, 20, w, 18, [80, 20, 20]);
      var fill = Math.trunc(w * Math.max(row[8], 0) / C.max_health);
      rect(s === 0 ? x : x + w - fill, 20, fill, 18, [240, 200, 60]);
      frameRect(x, 20, w, 18, [255, 255, 255], 2);
      var name = row[5] ? C.move_names[row[5]] : C.state_names[row[4]];
      var label = labels[s] + "  " + String(name);
      ctx.font = "15px " + FONT;
      text(label, s === 0 ? x : x + w - ctx.measureText(label).width, 44, C.colors[s], 15);
    });
    var secs = Math.floor(Math.max(ep.round_ticks - f.t, 0) / 60);
    ctx.font = "bold 28px " + FONT;
    var timer = (secs < 10 ? "0" : "") + secs;
    text(timer, W / 2 - ctx.measureText(timer).width / 2, 14, [255, 255, 255], 28, true);
    if (opts.hitboxes) {
      f.f.forEach(function (row) {
        frameRect(row[15], F - row[18], row[16] - row[15], row[18] - row[17], [60, 255, 60], 1);
        if (row.length >= 23) { frameRect(row[19], F - row[22], row[20] - row[19], row[22] - row[21], [255, 40, 40], 2); }
      });
      f.p.forEach(function (p) {
        if (p) {
          var P = C.projectile;
          frameRect(p[0] - P.half_width, F - P.box_high, 2 * P.half_width, P.box_high - P.box_low, [255, 40, 40], 2);
        }
      });
    }
    if (f.o !== undefined) {
      var msg = f.o === -1 ? "DRAW" : (labels[f.o] + " WINS");
      ctx.font = "bold 28px " + FONT;
      text(msg, W / 2 - ctx.measureText(msg).width / 2, 180, [255, 255, 255], 28, true);
    }
    // the panel below the stage
    var y0 = H, score = ep.score.slice();
    if (f.o !== undefined) { score[f.o === -1 ? 2 : f.o] += 1; }
    rect(0, y0, W, 206, [18, 19, 26]);
    line([[0, y0 + 0.5], [W, y0 + 0.5]], [90, 90, 100], 1);
    var cx = 290, hits = ep.hits[i], blocks = ep.blocks[i];
    text("P1 " + score[0] + " - " + score[1] + " P2", cx, y0 + 6, [230, 230, 230], 18, true);
    text("round " + (ep.round + 1) + "   draws " + score[2] + "   seed " + ep.seed, cx, y0 + 30, [190, 190, 200]);
    text("hits " + hits[0] + " - " + hits[1] + "    blocks " + blocks[0] + " - " + blocks[1], cx, y0 + 46, [220, 220, 160]);
    text((state.playing ? "speed " + state.speed + "x" : "PAUSED") + "   overlay: " + DUEL_MODES[opts.duelMode], cx, y0 + 62,
         [190, 190, 200]);
    text("tick " + f.t + "   frame " + (i + 1) + "/" + ep.frames.length, cx, y0 + 78, [190, 190, 200]);
    text(CONTROLS, 8, y0 + 190, [150, 150, 160]);
    if (!opts.bars) { return; }
    var di = ep.decision[i], d = di >= 0 ? ep.frames[di].d : null;
    for (var s = 0; s < 2; s++) {
      var x = s === 0 ? 10 : W - 270;
      text(("P" + (s + 1) + " " + ep.names[s]).slice(0, 34), x, y0 + 6, C.colors[s], 15);
      text(d ? d.s[s] : "no decision yet", x, y0 + 26, [170, 170, 180]);
      bars(x, y0 + 42, 260, 60, d ? d.p[s][0] : [], STICK_LABELS, C.colors[s], d ? d.c[s][0] : null);
      bars(x, y0 + 108, 130, 50, d ? d.p[s][1] : [], BUTTON_LABELS, C.colors[s], d ? d.c[s][1] : null);
      text("recent moves:", x + 140, y0 + 108, [170, 170, 180]);
      var recent = ep.moves[s].filter(function (m) { return m[0] <= i; }).slice(-4).reverse();
      recent.forEach(function (m, k) { text(m[1], x + 140, y0 + 122 + 13 * k, [225, 225, 225]); });
    }
  }

  // ---- the stealth grid -----------------------------------------------------------------------------------
  function drawStealth(ep, i, opts) {
    var L = ep.level, f = ep.frames[i], px = L.cell_px, h = L.height, w = L.width, area = 640;
    canvas.width = area + 260; canvas.height = area;
    rect(0, 0, canvas.width, canvas.height, [18, 19, 26]);
    var ox = Math.floor((area - w * px) / 2), oy = Math.floor((area - h * px) / 2);
    ctx.save(); ctx.translate(ox, oy);
    rect(0, 0, w * px, h * px, STEALTH.floor);
    var watched = new Set(opts.cones ? L.watched[f.ph] : []);
    var next = new Set(opts.cones ? L.watched[(f.ph + 1) % L.period] : []);
    for (var r = 0; r < h; r++) {
      for (var c = 0; c < w; c++) {
        var k = r * w + c;
        if (L.walls[r][c] === "#") { rect(c * px, r * px, px, px, STEALTH.wall); } else if (watched.has(k)) {
          rect(c * px, r * px, px, px, STEALTH.watched);
        } else if (next.has(k)) { rect(c * px, r * px, px, px, STEALTH.watched_next); }
      }
    }
    [["threat", opts.threat], ["hiding", opts.hiding]].forEach(function (o) {
      if (!o[1]) { return; }
      var grid = L[o[0]];
      for (var k2 = 0; k2 < h * w; k2++) {
        if (grid[k2] > 0) {
          var alpha = Math.trunc(40 + 150 * Math.min(1, grid[k2] / 1000)) / 255;
          ctx.fillStyle = rgb(STEALTH[o[0]], alpha);
          ctx.fillRect((k2 % w) * px, Math.floor(k2 / w) * px, px, px);
        }
      }
    });
    if (px >= 10) {
      for (var r2 = 0; r2 <= h; r2++) { rect(0, r2 * px, w * px + 1, 1, STEALTH.grid); }
      for (var c2 = 0; c2 <= w; c2++) { rect(c2 * px, 0, 1, h * px + 1, STEALTH.grid); }
    }
    var at = function (cell) { return [(cell % w + 0.5) * px, (Math.floor(cell / w) + 0.5) * px]; };
    rect((L.start % w) * px + 2, Math.floor(L.start / w) * px + 2, px - 4, px - 4, STEALTH.start);
    rect((L.goal % w) * px + 2, Math.floor(L.goal / w) * px + 2, px - 4, px - 4, STEALTH.goal);
    if (opts.path && f.path && f.path.length > 1) { line(f.path.map(at), STEALTH.path, Math.max(2, Math.floor(px / 6))); }
    L.guards[f.ph].forEach(function (g) {
      var p = at(g[0]);
      disc(p[0], p[1], px * 0.38, STEALTH.guard);
      var a = g[1] * Math.PI / 180;
      line([p, [p[0] + Math.cos(a) * px * 0.6, p[1] - Math.sin(a) * px * 0.6]], [30, 20, 20], Math.max(2, Math.floor(px / 8)));
    });
    var me = at(f.c);
    disc(me[0], me[1], px * 0.32, STEALTH.player);
    ctx.restore();
    var done = i === ep.frames.length - 1 && ep.result;
    if (done) {
      var col = { goal: [92, 178, 104], caught: [220, 60, 60], time: [200, 200, 90] }[ep.result] || [200, 200, 200];
      var label = { goal: "GOAL", caught: "CAUGHT", time: "OUT OF TIME" }[ep.result] || String(ep.result);
      ctx.font = "bold 18px " + FONT;
      var tw = ctx.measureText(label).width;
      rect(area / 2 - tw / 2 - 8, 8, tw + 16, 28, [18, 19, 26]);
      text(label, area / 2 - tw / 2, 12, col, 18, true);
    }
    // the side panel
    var x = area + 12, y = 10;
    y += text("stealth: " + String(ep.level_name || ""), x, y, [230, 230, 230], 18, true) + 2;
    y += text(h + "x" + w + ", " + L.guards[0].length + " guard(s), period " + L.period, x, y, [180, 180, 190]) + 6;
    y += text(("agent: " + String(ep.agent || "")).slice(0, 36), x, y, STEALTH.start, 15) + 2;
    y += text("episode " + ((ep.episode | 0) + 1) + "   step " + f.s + "/" + ep.max_steps + "   phase " + f.ph, x, y,
              [200, 200, 210]) + 2;
    var res = Array.isArray(ep.results) ? ep.results.slice() : [0, 0, 0];
    if (done) { res[{ goal: 0, caught: 1, time: 2 }[ep.result]] += 1; }
    y += text("goal " + res[0] + "   caught " + res[1] + "   out of time " + res[2], x, y, [220, 220, 160]) + 8;
    y += text((state.playing ? "speed " + state.speed + "x" : "PAUSED") + "   overlay [Tab]:", x, y, [230, 230, 230], 15) + 2;
    y += text("  " + STEALTH_MODES[opts.stealthMode], x, y, [255, 230, 150], 15) + 8;
    var legend = [];
    if (opts.cones) { legend.push([STEALTH.watched, "guard cone: watched now"], [STEALTH.watched_next, "watched next step"]); }
    legend.push([STEALTH.guard, "guard"], [STEALTH.player, "player"]);
    if (opts.threat) { legend.push([STEALTH.threat, "threat: share of time watched"]); }
    if (opts.hiding) { legend.push([STEALTH.hiding, "hiding spot: never watched"]); }
    if (opts.path) { legend.push([STEALTH.path, "planner's safe path from here"]); }
    legend.forEach(function (item) {
      rect(x, y + 2, 12, 12, item[0]);
      y += text(item[1], x + 18, y + 2, [210, 210, 215]) + 4;
    });
    if (f.pr) {
      y += 6;
      y += text("policy: action probabilities", x, y, [170, 170, 180]) + 2;
      bars(x, y, 200, 60, f.pr, STEALTH_LABELS, STEALTH.player, f.a === undefined ? null : f.a);
    }
    text("Space pause  Right step  +/- speed", x, area - 34, [150, 150, 160]);
    text("R restart  Tab overlay", x, area - 19, [150, 150, 160]);
  }

  // ---- the player ----------------------------------------------------------------------------------------
  function options() {
    return { bars: $("opt-bars").checked, hitboxes: $("opt-hitboxes").checked, cones: $("opt-cones").checked,
             threat: $("opt-threat").checked, hiding: $("opt-hiding").checked, path: $("opt-path").checked,
             duelMode: state.duelMode || 0, stealthMode: state.stealthMode || 0 };
  }
  function draw() {
    if (state.error || !state.trace) { return; }
    var ep = state.episodes[state.ep];
    try {
      if (ep.game === "duel") { drawDuel(ep, state.frame, options()); } else { drawStealth(ep, state.frame, options()); }
    } catch (err) {
      fail("cannot draw episode " + state.ep + ", frame " + state.frame + ": " + err.message);
      return;
    }
    canvas.setAttribute("data-episode", String(state.ep));
    canvas.setAttribute("data-frame", String(state.frame));
    $("scrub").max = String(ep.frames.length - 1);
    $("scrub").value = String(state.frame);
    $("where").textContent = "frame " + (state.frame + 1) + " / " + ep.frames.length;
    $("play").textContent = state.playing ? "Pause" : "Play";
    $("duel-opts").hidden = ep.game !== "duel";
    $("stealth-opts").hidden = ep.game !== "stealth";
  }
  function fail(msg) {
    state.error = msg; state.playing = false;
    var box = $("error");
    box.textContent = "This replay cannot be shown: " + msg;
    box.hidden = false;
    canvas.width = 900; canvas.height = 200;
    rect(0, 0, 900, 200, [60, 16, 16]);
    text("This replay cannot be shown:", 16, 16, [255, 255, 255], 18, true);
    text(msg.slice(0, 140), 16, 46, [255, 220, 220], 13);
    if (msg.length > 140) { text(msg.slice(140, 280), 16, 64, [255, 220, 220], 13); }
  }
  function goto(ep, frame) {
    state.ep = Math.max(0, Math.min(ep, state.episodes.length - 1));
    var n = state.episodes[state.ep].frames.length;
    state.frame = Math.max(0, Math.min(frame, n - 1));
    state.hold = 0;
    $("episode").value = String(state.ep);
    draw();
  }
  function step(dir) {
    var ep = state.episodes[state.ep], i = state.frame + dir;
    if (ep.game === "duel") {  // one decision: to the next (or previous) frame where the agents decided
      while (i > 0 && i < ep.frames.length - 1 && !ep.frames[i].d) { i += dir; }
    }
    goto(state.ep, i);
  }
  function setSpeed(k) {
    var idx = Math.max(0, Math.min(SPEEDS.length - 1, SPEEDS.indexOf(state.speed) + k));
    state.speed = SPEEDS[idx]; $("speed").value = String(state.speed); draw();
  }
  function cycleOverlay() {
    var ep = state.episodes[state.ep];
    if (ep.game === "duel") {
      state.duelMode = ((state.duelMode || 0) + 1) % DUEL_MODES.length;
      $("opt-bars").checked = state.duelMode !== 2;
      $("opt-hitboxes").checked = state.duelMode === 1;
    } else {
      state.stealthMode = ((state.stealthMode || 0) + 1) % STEALTH_MODES.length;
      var m = STEALTH_MODES[state.stealthMode];
      $("opt-cones").checked = true;
      $("opt-threat").checked = m === "all" || m === "threat map";
      $("opt-hiding").checked = m === "all" || m === "hiding spots";
      $("opt-path").checked = m === "all" || m === "safe path";
    }
    draw();
  }
  function tick(now) {
    if (state.playing && !state.error) {
      var dt = state.last === null ? 0 : Math.min((now - state.last) / 1000, 0.25);
      var ep = state.episodes[state.ep], rate = ep.game === "duel" ? 60 : 8;
      state.acc += dt * rate * state.speed;
      var moved = false;
      while (state.acc >= 1) {
        state.acc -= 1;
        if (state.frame < ep.frames.length - 1) { state.frame += 1; moved = true; } else if (state.hold < (ep.game === "duel" ? 90 : 8)) {
          state.hold += 1;
        } else if (state.ep < state.episodes.length - 1) {
          goto(state.ep + 1, 0); ep = state.episodes[state.ep]; moved = true;
        } else { state.playing = false; moved = true; break; }
      }
      if (moved) { draw(); }
    }
    state.last = now;
    window.requestAnimationFrame(tick);
  }
  function load(t) {
    state.error = null; $("error").hidden = true; $("error").textContent = "";
    try { checkTrace(t); } catch (err) { fail(err.message); return false; }
    state.trace = t;
    state.episodes = t.episodes.map(prepare);
    var sel = $("episode");
    while (sel.firstChild) { sel.removeChild(sel.firstChild); }
    state.episodes.forEach(function (ep, k) {
      var opt = document.createElement("option");
      opt.value = String(k);
      opt.textContent = (k + 1) + ". " + ep.title;
      sel.appendChild(opt);
    });
    $("count").textContent = state.episodes.length + (state.episodes.length === 1 ? " episode" : " episodes");
    goto(0, 0);
    return true;
  }
  function loadText(text2) {
    if (text2.length > MAX_BYTES) { fail("the trace is larger than the limit of " + MAX_BYTES + " bytes"); return; }
    var t;
    try { t = JSON.parse(text2); } catch (err) { fail("the trace is not valid JSON (" + err.message + ")"); return; }
    load(t);
  }

  // ---- wiring ---------------------------------------------------------------------------------------------
  $("play").addEventListener("click", function () { state.playing = !state.playing; draw(); });
  $("back").addEventListener("click", function () { state.playing = false; step(-1); });
  $("fwd").addEventListener("click", function () { state.playing = false; step(1); });
  $("speed").addEventListener("change", function () { state.speed = Number($("speed").value); draw(); });
  $("scrub").addEventListener("input", function () { goto(state.ep, Number($("scrub").value)); });
  $("episode").addEventListener("change", function () { goto(Number($("episode").value), 0); });
  ["opt-bars", "opt-hitboxes", "opt-cones", "opt-threat", "opt-hiding", "opt-path"].forEach(function (id) {
    $(id).addEventListener("change", draw);
  });
  $("open").addEventListener("change", function () {
    var file = $("open").files[0];
    if (!file) { return; }
    if (file.size > MAX_BYTES) { fail(file.name + " is larger than the limit of " + MAX_BYTES + " bytes"); return; }
    file.text().then(loadText);
  });
  document.addEventListener("keydown", function (ev) {
    if (ev.target && ev.target.tagName === "SELECT") { return; }
    if (state.error || !state.trace) { return; }
    var k = ev.key;
    if (k === " ") { state.playing = !state.playing; } else if (k === "ArrowRight") { state.playing = false; step(1); }
    else if (k === "ArrowLeft") { state.playing = false; step(-1); } else if (k === "+" || k === "=") { setSpeed(1); }
    else if (k === "-") { setSpeed(-1); } else if (k === "r" || k === "R") { goto(0, 0); }
    else if (k === "Tab") { cycleOverlay(); } else if (k === "Escape") { state.playing = false; } else { return; }
    ev.preventDefault();
    draw();
  });
  var embedded = $("trace");
  if (embedded) { loadText(embedded.textContent); } else { fail("the page holds no trace"); }
  window.requestAnimationFrame(tick);
})();
