/*
 * Taskdeck's behaviour: one module in one static file (the Content-Security-Policy allows
 * no inline script and htmx runs with allowEval off).
 *
 * Sections, in order:
 *   1. Helpers          querying, the live region, alerts
 *   2. htmx answers     error fragments swapped in, busy state, focus after a refusal,
 *                       short runbook URLs, the latest Back only, the task view's own swap
 *   3. Filters          menus and checkboxes apply at once
 *   4. Selection        row checkboxes, "select all", the bulk bar's count, bulk outcomes
 *   5. Row editor       Escape closes it, the priority field selects its text
 *   6. Drop-down menus  the workspace switcher and Columns: Escape or a click elsewhere
 *                       closes them
 *   7. Live refresh     requests through htmx, row merging, the age clock, the controls
 *   8. Time zones       every <time> in the viewer's zone, the zone chooser
 *   9. Keyboard         / search, j/k rows, Enter open, e edit, Esc close, ? help
 *  10. Wiring           one listener per event type, dispatching to the sections
 */
(function () {
  "use strict";

  // --- 1. Helpers ---------------------------------------------------------------------
  const $ = (selector, root) => (root || document).querySelector(selector);
  // Work for just after the next frame has been drawn.
  const afterFrame = (work) => {
    window.requestAnimationFrame(() => window.setTimeout(work));
  };
  // Work that can wait until the browser has drawn the page and is idle (within 1 s):
  // after the next frame first, since an idle callback alone may run before the page's
  // first frame, while the browser waits on the network.
  const later = (work) => {
    afterFrame(() => {
      if (typeof window.requestIdleCallback === "function") window.requestIdleCallback(work, { timeout: 1000 });
      else work();
    });
  };
  const $$ = (selector, root) => Array.from((root || document).querySelectorAll(selector));

  function announce(text) {
    const region = $("#announcer");
    if (!region) return;
    region.textContent = "";
    // A fresh text node after a tick makes screen readers announce repeated messages.
    window.setTimeout(() => { region.textContent = text; }, 50);
  }

  function alertUser(text) {
    const region = $("#alerts");
    if (!region) return;
    const item = document.createElement("div");
    item.className = "banner banner-error";
    const p = document.createElement("p");
    p.textContent = text;
    const close = document.createElement("button");
    close.type = "button";
    close.className = "button-link";
    close.dataset.dismiss = "";
    close.textContent = "Dismiss";
    item.append(p, close);
    region.replaceChildren(item);
  }

  // Requests the live refresh makes come from its controls; they report their own way.
  function isLiveRequest(event) {
    return Boolean(event.detail && event.detail.elt && event.detail.elt.id === "live-controls");
  }

  // --- 2. htmx answers ----------------------------------------------------------------
  const answers = {
    // Taskdeck's own 4xx/5xx answers are fragments made for the spot the request came
    // from (validation errors, conflicts, TaskRouter problems): swap them in like a
    // success. Anything else is explained in the alert region.
    beforeSwap(event) {
      const xhr = event.detail.xhr;
      if (xhr.status < 400) return;
      if (xhr.getResponseHeader("Taskdeck-Fragment") === "1") {
        event.detail.shouldSwap = true;
        event.detail.isError = false;
      } else if (xhr.status === 401 || xhr.status === 403) {
        alertUser("Your session may have expired. Reload the page to sign in again; " +
                  "anything you typed is still in the form.");
      } else {
        alertUser("Taskdeck could not do that (HTTP " + xhr.status + "). " +
                  "Nothing you typed is lost; try again, or reload the page.");
      }
    },

    sendError(event) {
      if (isLiveRequest(event)) return;
      alertUser("Taskdeck cannot be reached. Check your connection; " +
                "what you typed is still here, so try again in a moment.");
    },

    timeout(event) {
      if (isLiveRequest(event)) return;
      alertUser("Taskdeck took too long to answer. Try again in a moment.");
    },

    beforeRequest(event) {
      const target = event.detail.target;
      if (target && !isLiveRequest(event)) target.setAttribute("aria-busy", "true");
    },

    afterRequest(event) {
      if (isLiveRequest(event)) return;
      // The element marked busy is the one the request was for, even when the answer went
      // elsewhere (HX-Retarget: a problem shown in the alert area).
      const config = event.detail.requestConfig;
      const asked = (config && config.target) || event.detail.target;
      if (asked) asked.removeAttribute("aria-busy");
      // A success clears old alerts, unless the answer was itself put in the alert area.
      const alerts = $("#alerts");
      if (event.detail.successful && alerts && event.detail.target !== alerts) alerts.replaceChildren();
    },

    // After a refused save the button that was pressed is gone: put keyboard focus on
    // the first field to fix (or the conflict to read), and say so in the live region.
    focusAfterRefusal(event) {
      const xhr = event.detail.xhr;
      const swapped = event.detail.target;
      if (!xhr || xhr.status < 400 || !swapped || swapped.id === "task-view") return;
      // An outerHTML swap replaced the target: its successor carries the same id.
      const target = swapped.isConnected ? swapped : document.getElementById(swapped.id);
      if (!target) return;
      const invalid = $("[aria-invalid=true]", target);
      const conflict = $(".conflict", target);
      if (invalid) {
        invalid.focus();
        announce("Fix the highlighted field: " + (invalid.labels && invalid.labels[0]
          ? invalid.labels[0].textContent.trim() : "see the message next to it") + ".");
      } else if (conflict) {
        conflict.setAttribute("tabindex", "-1");
        conflict.focus();
      }
    },

    // Back (or Forward) asks the server for the page again (htmx keeps no copies: see
    // base.html). Pressed twice in quick succession, the first page's answer could land
    // after the second's and show its view under the second page's address: only the
    // latest of these requests may land.
    historyRequest: null,

    historyCacheMiss(event) {
      const earlier = answers.historyRequest;
      if (earlier && earlier.readyState !== XMLHttpRequest.DONE) earlier.abort();
      answers.historyRequest = event.detail.xhr;
    },

    // Runbook links stay short: empty filter fields are left out of the URL htmx pushes.
    configRequest(event) {
      if (event.detail.verb !== "get" || !event.detail.elt.closest("form[data-auto-submit]")) return;
      const params = event.detail.parameters;
      Array.from(params.keys()).forEach((key) => {
        if (params.getAll(key).every((value) => value === "")) params.delete(key);
      });
    },
  };

  // The task view (filters, counts and table: about 17,000 elements at 1000 rows) is
  // replaced whole on each filter change, sort or page. htmx's outerHTML swap spent two
  // thirds of its time on work this view does not need: it looked up each new element
  // that has an id (two per row) in the old view to carry its attributes across for a
  // CSS transition, and walked every old element firing two cleanup events each. The
  // "replace" swap (hx-swap="replace" inside hx-ext="task-view") inserts the new view and
  // drops the old one; htmx still processes, settles and focuses the new one as after an
  // outerHTML swap. The old view needs no cleanup: htmx's listeners in it are on its own
  // elements and go with them, and it has no polling or other timers.
  if (window.htmx) {
    window.htmx.defineExtension("task-view", {
      handleSwap(style, target, fragment, settleInfo) {
        if (style !== "replace") return false;
        const added = Array.from(fragment.children);
        added.forEach((element) => element.classList.add(window.htmx.config.addedClass));
        target.replaceWith(fragment);
        // What htmx marks as settling and fires htmx:afterSwap/afterSettle on.
        settleInfo.elts = settleInfo.elts.filter((element) => element !== target).concat(added);
        return added;
      },
    });
  }

  // --- 3. Filters ---------------------------------------------------------------------
  const filters = {
    // Menus and checkboxes apply at once; text fields on Enter (the form's own submit).
    // `field.form`, not the nearest form: the column chooser's boxes sit beside the table
    // and belong to the filter form through form="filters".
    change(field) {
      const form = field.form && field.form.matches("[data-auto-submit]") ? field.form : null;
      if (form && field.matches("select, input[type=checkbox], input[type=radio]")) {
        form.requestSubmit();
      }
    },
  };

  // --- 4. Selection -------------------------------------------------------------------
  const selection = {
    sids() {
      return new Set($$("#task-rows .row-select:checked").map((box) => box.value));
    },

    change(box) {
      if (box.id === "select-all") {
        $$("#task-rows .row-select").forEach((row) => { row.checked = box.checked; });
      }
      if (box.id === "select-all" || box.classList.contains("row-select")) selection.count();
    },

    count() {
      const label = $("#selection-count");
      if (!label) return;
      const count = $$("#task-rows .row-select:checked").length;
      label.textContent = count ? "(" + count + " selected)" : "(tick rows to select them)";
    },

    // When a bulk job finishes, the table shows the tasks as they are now; the refresh's
    // announcement keeps the job's outcome in front of what changed.
    bulkSettled(target) {
      const finished = target && target.id === "bulk-panel" && $("[data-bulk-finished]", target);
      if (finished) live.refresh({ lead: finished.dataset.bulkFinished });
    },
  };

  // --- 5. Row editor ------------------------------------------------------------------
  const rowEditor = {
    // The row an editor replaced had a version; the refresh keeps reporting it, so an
    // open editor neither defeats "nothing changed" nor looks stale when it is not.
    versions: new Map(),

    beforeSwap(target) {
      if (target && target.matches && target.matches("#task-rows > tr[data-version]")) {
        rowEditor.versions.set(target.dataset.sid, target.dataset.version);
      }
    },

    versionOf(row) {
      return row.dataset.version || rowEditor.versions.get(row.dataset.sid) || "";
    },

    // A row's Edit: the row becomes its editor, as if the link carried hx-get with the
    // tbody's hx-target and hx-swap. One listener for the table instead of htmx setting up
    // every row's link on page load; the editor's URL is the tbody's data-edit-url for
    // the row's SID. A click with a modifier key opens the task page, as the link says.
    open(event) {
      const link = event.target.closest("#task-rows a[data-row-edit]");
      if (!link || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) {
        return false;
      }
      const row = link.closest("tr[data-sid]");
      const template = link.closest("#task-rows").dataset.editUrl;
      if (!row || !template || !window.htmx) return false;
      event.preventDefault();
      const url = template.replace("{sid}", encodeURIComponent(row.dataset.sid));
      window.htmx.ajax("GET", url, { source: link, target: row, swap: "outerHTML" });
      return true;
    },

    // Escape leaves the editor the way its Cancel link does.
    escape() {
      const active = document.activeElement;
      return rowEditor.cancel(active && active.closest && active.closest("tr[data-editing]"));
    },

    // The Cancel link's request, asked of htmx directly rather than by a click: htmx sets
    // the link up only as the new editor settles, and Escape pressed before that (e, then
    // Escape at once) would follow its href and open the row's fragment as a page.
    cancel(editor) {
      const link = editor && $("[data-editor-cancel]", editor);
      if (!link || !window.htmx) return false;
      const url = link.getAttribute("hx-get");
      window.htmx.ajax("GET", url, { source: link, target: editor, swap: "outerHTML" });
      return true;
    },

    // Typing a priority replaces the one shown instead of appending to it, whether the
    // field got focus as the editor opened, by Tab or by a click.
    focusedAt: 0,

    focusIn(field) {
      if (!field.matches("tr[data-editing] input[name$=priority]")) return;
      field.select();
      rowEditor.focusedAt = Date.now();
    },

    // The mouseup of the click that focused the field would put the caret where it
    // landed and undo the selection; a later click places the caret as usual.
    mouseUp(event) {
      const field = event.target;
      if (Date.now() - rowEditor.focusedAt < 500 &&
          field.matches("tr[data-editing] input[name$=priority]")) {
        event.preventDefault();
      }
      rowEditor.focusedAt = 0;
    },
  };

  // The first frame draws only the rows near the screen (content-visibility in
  // taskdeck.css); the others count as one line until drawn, but at a laptop's width most
  // rows wrap to two. Scrolled to at once (End, the scrollbar, the pager's link), they
  // would grow as they are drawn and push what is below them, the pager included, off the
  // screen. So each row is drawn once (.measuring, for one frame) and let go again: the
  // browser keeps the height it was drawn at (contain-intrinsic-block-size: auto), so
  // nothing moves when it is scrolled to, and rows off the screen stay undrawn, cheap to
  // replace on the next filter change. The first hundred rows (a page at the default
  // size, whole) are drawn in the frame after the first; the others a few dozen at a time
  // when the browser is idle, so a long table's measuring hardly delays what the person
  // asks for next.
  const rowsAhead = {
    undrawn(row) {
      const cell = row.firstElementChild;
      return Boolean(cell && cell.checkVisibility && !cell.checkVisibility({ contentVisibilityAuto: true }));
    },

    start() {
      const body = $("#task-rows");
      if (body) delete body.dataset.measured;
      afterFrame(() => rowsAhead.next(100));
    },

    next(count = 40) {
      const body = $("#task-rows");
      if (!body) return;
      $$(":scope > tr.measuring", body).forEach((row) => row.classList.remove("measuring"));
      const waiting = $$(":scope > tr:not([data-measured])", body).slice(0, count);
      waiting.forEach((row) => {
        row.dataset.measured = "";
        // A row the browser draws already (on or near the screen) keeps its height as it
        // is: taking it through .measuring would leave it blank for a frame as it returns.
        if (rowsAhead.undrawn(row)) row.classList.add("measuring");
      });
      if (waiting.length) later(() => rowsAhead.next());
      else body.dataset.measured = "";
    },
  };

  // --- 6. Drop-down menus ------------------------------------------------------------
  // <details> that open over the page: left open, Columns covered the row editor opened
  // beside it (its priority field included), and the switcher the header's links.
  const dropdowns = {
    OPEN: "details.workspace-switcher[open], details.column-chooser[open]",
    escape() {
      const open = $(dropdowns.OPEN);
      if (!open) return false;
      open.open = false;
      $("summary", open).focus();
      return true;
    },
    clickAway(target) {
      $$(dropdowns.OPEN).forEach((menu) => {
        if (!menu.contains(target)) menu.open = false;
      });
    },
  };

  // --- 7. Live refresh ----------------------------------------------------------------
  const live = {
    timer: null,
    inFlight: false,
    failures: 0,

    controls() { return $("#live-controls"); },

    paused() { return window.localStorage.getItem("taskdeck.live.paused") === "1"; },

    interval() {
      const controls = live.controls();
      const stored = Number(window.localStorage.getItem("taskdeck.live.interval"));
      const fallback = Number(controls && controls.dataset.refreshSeconds) || 15;
      return (stored > 0 ? stored : fallback) * 1000;
    },

    setState(text) {
      const state = $("#live-state");
      if (state) state.textContent = text;
    },

    render() {
      const controls = live.controls();
      if (!controls) return;
      controls.hidden = false;
      const toggle = $("#live-toggle", controls);
      const paused = live.paused();
      // The label says what pressing does; aria-pressed says that updates are paused.
      toggle.setAttribute("aria-pressed", paused ? "true" : "false");
      toggle.textContent = paused ? "Resume live updates" : "Pause live updates";
      if (paused) live.setState("Paused.");
      else if ($("#live-state") && $("#live-state").textContent === "Paused.") live.setState("");
      const select = $("#live-interval", controls);
      const seconds = String(live.interval() / 1000);
      if (!$$("option", select).some((o) => o.value === seconds)) {
        const option = document.createElement("option");
        option.value = seconds;
        option.textContent = seconds + " s";
        select.append(option);
      }
      select.value = seconds;
    },

    start() {
      live.render();
      live.schedule();
      // The server wrote every age as of its read: they start moving once the table is on
      // screen, not on the way to its first frame (a 1000-row table is 1000 cells).
      later(() => {
        clock.stamp($("#task-rows"));
        clock.tick();
      });
    },

    schedule() {
      window.clearTimeout(live.timer);
      if (!live.controls() || live.paused()) return;
      // Back off while TaskRouter is failing, so a fleet of open tabs does not pile on.
      const delay = live.interval() * Math.min(4, 1 + live.failures);
      live.timer = window.setTimeout(() => live.refresh(), delay);
    },

    toggle() {
      const paused = !live.paused();
      window.localStorage.setItem("taskdeck.live.paused", paused ? "1" : "0");
      live.render();
      announce(paused ? "Live updates paused." : "Live updates resumed.");
      if (paused) window.clearTimeout(live.timer); else live.refresh();
    },

    setInterval(value) {
      window.localStorage.setItem("taskdeck.live.interval", value);
      live.schedule();
    },

    visible() {
      const body = $("#task-rows");
      const readAt = body ? new Date(body.dataset.readAt) : null;
      // Back after a while: refresh at once instead of showing old data for an interval.
      if (readAt && Date.now() - readAt.getTime() > live.interval()) live.refresh();
      else live.schedule();
    },

    // What the page shows, for the server to compare with what it has: per row, its
    // data-version XORed with the SID's last 8 hex digits, 4 bytes each, base64
    // (tasks_app/live.py computes the same keys).
    rowsHeader(body) {
      let bytes = "";
      for (const row of body.rows) {
        const version = parseInt(rowEditor.versionOf(row), 16) || 0;
        const sidBits = parseInt((row.dataset.sid || "").slice(-8), 16) || 0;
        const key = (version ^ sidBits) >>> 0;
        bytes += String.fromCharCode(key >>> 24, (key >>> 16) & 255, (key >>> 8) & 255, key & 255);
      }
      return window.btoa(bytes);
    },

    // `lead`: what the page has just announced and the refresh must not talk over (a
    // bulk action's outcome); `everyRow`: ask for all rows, not only the ones we lack.
    refresh(options) {
      const { lead, everyRow } = options || {};
      const controls = live.controls();
      const body = $("#task-rows");
      if (!controls || !body || !window.htmx) return;
      if (document.visibilityState !== "visible" || live.inFlight ||
          $("#task-view[aria-busy=true]")) {
        live.schedule();
        return;
      }
      live.inFlight = true;
      let retry = false;
      // Through htmx, so the refresh carries htmx's headers (HX-Request, HX-Target:
      // task-rows, HX-Current-URL), the page's CSRF header and htmx's events; the
      // handler merges rows instead of swapping.
      window.htmx.ajax("GET", controls.dataset.refreshUrl, {
        source: controls,
        target: body,
        swap: "none",
        headers: everyRow ? {} : { "Taskdeck-Rows": live.rowsHeader(body) },
        handler: (elt, info) => {
          // The view may have been swapped while this request ran: only merge into the
          // table this request was for.
          if (!controls.isConnected || live.controls() !== controls) return;
          retry = !live.answer(info.xhr, body, lead);
        },
      }).then(() => {}, () => live.failed("Taskdeck cannot be reached."))
        .finally(() => {
          live.inFlight = false;
          if (retry && !everyRow) {
            live.refresh({ lead, everyRow: true });
            return;
          }
          live.refreshCounts();
          live.schedule();
        });
    },

    // The counts strip is the workspace's, not the table's: it comes from TaskRouter's
    // statistics (one read shared by every viewer for a few seconds), so it is asked for
    // with each refresh whether or not the rows changed (HX-Target: counts).
    refreshCounts() {
      const strip = $("#counts");
      const controls = live.controls();
      // The saved views' live counts (tasks_app/saved_views) come from their own URL.
      const views = $("#saved-views-live[data-refresh-url]");
      if (views && controls && window.htmx) {
        window.htmx.ajax("GET", views.dataset.refreshUrl, { source: views, target: views, swap: "outerHTML" });
      }
      if (!strip || !controls) return;
      window.htmx.ajax("GET", controls.dataset.refreshUrl, {
        source: strip,
        target: strip,
        swap: "outerHTML",
      });
    },

    // Returns false when the answer left out a row this page does not have (so every
    // row must be asked for).
    answer(xhr, body, lead) {
      if (xhr.status === 204) {
        body.dataset.readAt = xhr.getResponseHeader("Taskdeck-Read-At") || new Date().toISOString();
        live.succeeded();
        return true;
      }
      const template = document.createElement("template");
      template.innerHTML = xhr.responseText;
      if (xhr.status !== 200) {
        const reason = $(".banner p", template.content);
        live.failed(reason ? reason.textContent : "HTTP " + xhr.status + ".");
        return true;
      }
      const fresh = $("#task-rows", template.content);
      if (!fresh) {
        live.failed("unexpected answer.");
        return true;
      }
      if (!live.merge(body, fresh, lead)) return false;
      live.succeeded();
      return true;
    },

    succeeded() {
      live.failures = 0;
      live.setState("");
      clock.tick();
    },

    failed(reason) {
      live.failures += 1;
      live.setState("Refresh failed: " + reason + " Retrying.");
      const age = $("#data-age");
      if (age) age.classList.add("stale");
    },

    merge(body, fresh, lead) {
      const freshRows = new Map(Array.from(fresh.rows).map((row) => [row.dataset.sid, row]));
      const order = fresh.dataset.order === undefined
        ? Array.from(freshRows.keys())
        : fresh.dataset.order.split(" ").filter(Boolean);
      const oldRows = new Map(Array.from(body.rows).map((row) => [row.dataset.sid, row]));
      if (order.some((sid) => !freshRows.has(sid) && !oldRows.has(sid))) return false;

      const selected = selection.sids();
      const active = document.activeElement;
      const focusedId = active && body.contains(active) ? active.id : null;
      const scrollX = window.scrollX;
      const scrollY = window.scrollY;
      clock.stamp(fresh, fresh.dataset.readAt);

      let changed = 0;
      let added = 0;
      const rows = order.map((sid) => {
        const old = oldRows.get(sid);
        const row = freshRows.get(sid);
        oldRows.delete(sid);
        if (!row) return old; // unchanged: the server did not send it again
        if (!old) {
          added += 1;
          row.classList.add("row-added");
          return row;
        }
        if (old.dataset.editing) {
          // Someone is editing this row: never replace it under them; the editor itself
          // detects a newer version when saving.
          if (rowEditor.versionOf(old) !== row.dataset.version) old.classList.add("row-stale");
          return old;
        }
        if (old.dataset.version === row.dataset.version) return old;
        changed += 1;
        row.classList.add("row-changed");
        return row;
      });
      const removed = oldRows.size;

      // Move as little as possible: a row that stays where it is keeps its element, and
      // with it focus and the browser's scroll anchor.
      rows.forEach((row, index) => {
        if (body.rows[index] !== row) body.insertBefore(row, body.rows[index] || null);
      });
      // What is left after them: rows that left the view, and the old copies of changed rows.
      while (body.rows.length > rows.length) body.rows[rows.length].remove();
      rows.forEach((row) => {
        const box = $(".row-select", row);
        if (box) box.checked = selected.has(row.dataset.sid);
        if (row.classList.contains("row-changed") || row.classList.contains("row-added")) {
          window.htmx.process(row);
        }
      });
      keyboard.keep();
      if (focusedId && (!document.activeElement || document.activeElement.id !== focusedId)) {
        const again = document.getElementById(focusedId);
        if (again) again.focus({ preventScroll: true });
      }
      if (window.scrollX !== scrollX || window.scrollY !== scrollY) window.scrollTo(scrollX, scrollY);

      body.dataset.readAt = fresh.dataset.readAt;
      zones.apply(body); // only the rows that came in are not yet in the viewer's zone
      const count = $("#row-count");
      if (count) count.textContent = rows.length + (rows.length === 1 ? " task" : " tasks") + " on this page";
      const notes = [];
      if (changed) notes.push(changed + (changed === 1 ? " task changed" : " tasks changed"));
      if (added) notes.push(added + (added === 1 ? " task appeared" : " tasks appeared"));
      if (removed) notes.push(removed + (removed === 1 ? " task left this view" : " tasks left this view"));
      if (notes.length) announce((lead ? lead + " " : "") + "Live update: " + notes.join(", ") + ".");
      selection.count();
      return true;
    },
  };

  // The age of the data and of every task move on in the browser: a refresh that finds
  // nothing changed carries no rows, yet "waiting 12 min" keeps counting.
  const clock = {
    // Each time cell gets data-created (the moment its time counts from), from the
    // seconds the server showed ("1,234 seconds waiting in its queue" in its title) and
    // when it read them; and the words around the number, which depend on the status.
    stamp(root, readAtText) {
      if (!root) return;
      const readAt = Date.parse(readAtText || root.dataset.readAt);
      if (Number.isNaN(readAt)) return;
      $$(".col-age", root).forEach((cell) => {
        if (cell.dataset.created || !cell.title) return;
        const seconds = Number(cell.title.replace(/[^0-9]/g, ""));
        if (Number.isNaN(seconds)) return;
        cell.dataset.created = new Date(readAt - seconds * 1000).toISOString();
        cell.dataset.word = cell.textContent.replace(/\d[\s\S]*$/, "").trim();
        cell.dataset.meaning = cell.title.replace(/^[\d,]+ seconds /, "");
      });
    },

    duration(seconds) {
      // The same coarse steps as the server's human_duration (tasks_app/presentation.py).
      seconds = Math.max(0, Math.floor(seconds));
      if (seconds < 60) return seconds + " s";
      let minutes = Math.floor(seconds / 60);
      if (minutes < 60) return minutes + " min";
      let hours = Math.floor(minutes / 60);
      minutes %= 60;
      if (hours < 24) return minutes ? hours + " h " + minutes + " min" : hours + " h";
      const days = Math.floor(hours / 24);
      hours %= 24;
      return hours ? days + " d " + hours + " h" : days + " d";
    },

    // Made on first use, not as the script loads: building an Intl formatter is slow.
    numbers: null,
    number(value) {
      if (!clock.numbers) clock.numbers = new Intl.NumberFormat("en-US");
      return clock.numbers.format(value);
    },

    // Every 5 s over every row, so the per-row work is a subtraction and two strings: the
    // zone is looked up once, and each cell keeps its "since" text until the zone changes.
    tick() {
      const now = Date.now();
      const zone = zones.current();
      $$("#task-rows [data-created]").forEach((cell) => {
        const created = Date.parse(cell.dataset.created);
        if (Number.isNaN(created)) return;
        const seconds = Math.max(0, Math.floor((now - created) / 1000));
        const duration = clock.duration(seconds);
        const span = cell.querySelector(".duration");
        if (span) {
          if (span.textContent !== duration) span.textContent = duration;
        } else {
          const text = (cell.dataset.word ? cell.dataset.word + " " : "") + duration;
          if (cell.textContent !== text) cell.textContent = text;
        }
        if (cell.dataset.sinceZone !== zone) {
          const date = new Date(created);
          cell.dataset.since = zones.text(date, zone, true) + " (" + zones.utc(date) + ")";
          cell.dataset.sinceZone = zone;
        }
        cell.title = clock.number(seconds) + " seconds " + (cell.dataset.meaning || "") +
          ", since " + cell.dataset.since;
      });
      breach.tick(now);
      clock.dataAge(now);
    },

    dataAge(now) {
      const label = $("#data-age");
      const body = $("#task-rows");
      if (!label || !body) return;
      const readAt = new Date(body.dataset.readAt || label.dataset.readAt);
      if (Number.isNaN(readAt.getTime())) return;
      const seconds = Math.max(0, Math.round((now - readAt.getTime()) / 1000));
      // "4 min ago" reads better than a clock time; the time itself is in the viewer's
      // zone, and its exact UTC moment on hover.
      const time = zones.text(readAt, zones.current(), true).slice(11);
      const ago = seconds < 60 ? seconds + " s ago" : Math.floor(seconds / 60) + " min ago";
      label.textContent = "as of " + time + " (" + ago + ")";
      label.title = zones.utc(readAt);
      label.classList.toggle("stale", seconds * 1000 > 2 * live.interval() + 5000);
    },
  };

  // Time to breach (tasks_app/tables.py, BreachColumn): each waiting row's target cell
  // carries the moment its task breaches; its words and colour class move on here, so a
  // task crossing its target turns breaching without a reload. The same words and steps
  // as the server writes: whole seconds, past the target only once the wait exceeds it.
  const breach = {
    soonSeconds: 300,

    words(remaining) {
      return remaining < 0
        ? "\u26a0 " + clock.duration(-remaining) + " past target"
        : "due in " + clock.duration(remaining);
    },

    tick(now) {
      $$("#task-rows [data-breach-at]").forEach((cell) => {
        const at = Date.parse(cell.dataset.breachAt);
        if (Number.isNaN(at)) return;
        const remaining = Math.ceil((at - now) / 1000);
        const state = remaining < 0 ? "now" : remaining <= breach.soonSeconds ? "soon" : "later";
        ["now", "soon", "later"].forEach((name) => {
          cell.classList.toggle("breach-" + name, name === state);
        });
        const text = $(".breach-text", cell);
        const words = breach.words(remaining);
        if (text && text.textContent !== words) text.textContent = words;
      });
      $$("#task-rows .since-created[data-created-at]").forEach((span) => {
        const created = Date.parse(span.dataset.createdAt);
        if (Number.isNaN(created)) return;
        const words = clock.duration((now - created) / 1000) + " since created";
        if (span.textContent !== words) span.textContent = words;
      });
    },
  };

  // --- 8. Time zones ------------------------------------------------------------------
  // The server writes every moment as <time datetime="ISO 8601"> (in the task table, as
  // the cell itself: <td data-at="ISO 8601">) in its own zone
  // (TASKDECK_TIME_ZONE), which is what people without JavaScript see. Here each one is
  // rewritten in the viewer's zone: the browser's, or one they chose in the header
  // (remembered in localStorage). The zone is named once, by the chooser; each time shows
  // its exact UTC moment on hover. Elements already written in the current zone carry
  // data-zone and are skipped, so applying again after a swap or a live refresh costs a
  // query, not a reformat of a 1000-row table. The server marks table cells with its own
  // zone, so when the viewer's zone is the server's (TASKDECK_TIME_ZONE) nothing in the
  // table is rewritten at all.
  //
  // No Intl object is built on the way to the first frame: in a new renderer process (a
  // new tab) the first one loads the browser's time-zone data, about 20 ms. So the
  // browser's zone is the one it had last time (kept in localStorage beside a chosen
  // one), and the first frame needs no formatter when the times are already in it; once
  // the page is drawn, the browser is asked and a chosen zone checked (verify), and if
  // either changed (a laptop taken to another zone) every time is written again.
  const zones = {
    storageKey: "taskdeck.timeZone",
    browserKey: "taskdeck.browserTimeZone",
    formats: new Map(),
    browser: "", // the browser's own zone: as remembered, then as asked

    browserZone() {
      if (!zones.browser) zones.browser = zones.stored(zones.browserKey) || zones.askBrowser();
      return zones.browser;
    },

    askBrowser() {
      try {
        return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
      } catch (error) {
        return "UTC";
      }
    },

    // A zone kept in localStorage, if it has a zone name's shape ("Europe/Paris",
    // "UTC", "Etc/GMT+5"): whether the browser knows it is checked once the page is up.
    stored(key) {
      const value = window.localStorage.getItem(key);
      return value && /^[A-Za-z0-9_+\-]+(\/[A-Za-z0-9_+\-]+)*$/.test(value) ? value : "";
    },

    chosen() {
      return zones.stored(zones.storageKey);
    },

    current() {
      return zones.chosen() || zones.browserZone();
    },

    valid(zone) {
      try {
        new Intl.DateTimeFormat("en-US", { timeZone: zone });
        return true;
      } catch (error) {
        return false;
      }
    },

    // After the first frame: the browser's zone as it is now, and a chosen zone the
    // browser may not know (kept by an older browser, or typed into localStorage).
    verify() {
      const before = zones.current();
      const chosen = zones.chosen();
      if (chosen && !zones.valid(chosen)) {
        window.localStorage.removeItem(zones.storageKey);
        const menu = $("#time-zone");
        const unknown = menu && $$("option", menu).find((item) => item.value === chosen);
        if (unknown) unknown.remove();
        if (menu) menu.value = "";
      }
      const browser = zones.askBrowser();
      window.localStorage.setItem(zones.browserKey, browser);
      if (browser !== zones.browser) {
        zones.browser = browser;
        const follow = $("#time-zone option[value='']");
        if (follow) follow.textContent = browser + " (this browser)";
      }
      if (zones.current() !== before) {
        zones.remember();
        zones.apply(document);
      }
    },

    // One cached formatter per zone: building an Intl.DateTimeFormat is the expensive part.
    format(zone) {
      let format = zones.formats.get(zone);
      if (!format) {
        const options = {
          timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit",
          day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
        };
        try {
          format = new Intl.DateTimeFormat("en-US", options);
        } catch (error) { // a zone this browser does not know: UTC until verify() drops it
          format = new Intl.DateTimeFormat("en-US", { ...options, timeZone: "UTC" });
        }
        zones.formats.set(zone, format);
      }
      return format;
    },

    // "2026-01-31 09:30:00" in the zone (the same shape the server writes). format() and
    // one regular expression cost a fraction of formatToParts(), which builds an object
    // per part: a 1000-row table in another zone formats 4000 times.
    text(date, zone, seconds) {
      const format = zones.format(zone);
      const found = zones.shape.exec(format.format(date));
      let parts;
      if (found) {
        parts = { month: found[1], day: found[2], year: found[3], hour: found[4], minute: found[5], second: found[6] };
      } else {
        parts = {};
        format.formatToParts(date).forEach((part) => { parts[part.type] = part.value; });
      }
      const time = parts.hour + ":" + parts.minute + (seconds ? ":" + parts.second : "");
      return parts.year + "-" + parts.month + "-" + parts.day + " " + time;
    },
    // What en-US format() writes with the options above: "01/31/2026, 09:30:00".
    shape: /^(\d{2})\/(\d{2})\/(\d{4}),? (\d{2}):(\d{2}):(\d{2})$/,

    utc(date) {
      return zones.text(date, "UTC", true) + " UTC";
    },

    // Every moment on a page: a <time>, or a task table's cell, which is its moment.
    moments: "time[datetime], td[data-at]",

    // ageNow false: the data's age ("as of 10:42:07 (3 s ago)") is left to the clock's
    // next tick, as on page load, where the first tick waits until the page is drawn.
    apply(root, ageNow = true) {
      const zone = zones.current();
      const scope = root && root.querySelectorAll ? root : document;
      const times = $$(zones.moments, scope);
      if (scope instanceof Element && scope.matches(zones.moments)) times.push(scope);
      times.forEach((element) => {
        if (element.dataset.zone === zone) return;
        const cell = element.tagName === "TD";
        const date = new Date(cell ? element.dataset.at : element.getAttribute("datetime"));
        if (Number.isNaN(date.getTime())) return;
        // Table cells are short (minutes); the task page and audit trail show seconds.
        element.textContent = zones.text(date, zone, !cell);
        element.title = zones.utc(date);
        element.dataset.zone = zone;
      });
      if (ageNow) clock.dataAge(Date.now());
    },

    // The chooser is made here, not in the template: without JavaScript nothing would
    // convert, and the page names the server's zone as it always did.
    chooser() {
      const header = $(".site-header");
      if (!header || $("#time-zone")) return;
      const wrapper = document.createElement("span");
      wrapper.className = "time-zone-chooser";
      const label = document.createElement("label");
      label.htmlFor = "time-zone";
      label.textContent = "Times in";
      const select = document.createElement("select");
      select.id = "time-zone";
      const browser = zones.browserZone();
      const option = (value, text) => {
        const item = document.createElement("option");
        item.value = value;
        item.textContent = text;
        select.append(item);
      };
      option("", browser + " (this browser)");
      if (browser !== "UTC") option("UTC", "UTC");
      const chosen = zones.chosen();
      if (chosen && chosen !== browser && chosen !== "UTC") option(chosen, chosen);
      select.value = chosen;
      wrapper.append(label, " ", select);
      header.append(wrapper);
      // Every other zone (about 400 options) once the page is up, or as soon as someone
      // reaches for the menu: not on the way to the first frame.
      const fill = () => zones.fillChooser(select);
      ["focus", "pointerdown", "keydown"].forEach((type) => select.addEventListener(type, fill));
      later(fill);
    },

    // The zones the browser knows, in its order, after the ones already offered.
    fillChooser(select) {
      if (select.dataset.filled) return;
      select.dataset.filled = "1";
      // The browser's own zone is the first option already (value "": follow the browser).
      const offered = new Set($$("option", select).map((item) => item.value).concat(zones.browserZone()));
      const others = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
      const fragment = document.createDocumentFragment();
      others.forEach((zone) => {
        if (offered.has(zone)) return;
        const item = document.createElement("option");
        item.value = zone;
        item.textContent = zone;
        fragment.append(item);
      });
      const value = select.value;
      select.append(fragment);
      select.value = value;
    },

    // The server counts "today" (the queue strip's service level) from midnight in the
    // viewer's zone: it reads it from this cookie (tasks_app/triage/strip.py).
    remember() {
      document.cookie = "taskdeck_tz=" + zones.current() + "; path=/; max-age=31536000; SameSite=Lax";
    },

    choose(zone) {
      if (zone) window.localStorage.setItem(zones.storageKey, zone);
      else window.localStorage.removeItem(zones.storageKey);
      zones.remember();
      zones.apply(document);
      announce("Times now shown in " + zones.current() + ".");
    },

    start() {
      zones.remember();
      zones.chooser();
      zones.apply(document, false);
      later(zones.verify);
    },
  };

  // --- 9. Keyboard --------------------------------------------------------------------
  const keyboard = {
    // The current row is remembered by SID, not by element: the live refresh and the row
    // editor replace row elements, and the row must stay current across both.
    currentSid: null,

    // Typing in a field (or any key with Ctrl, Alt or Meta, which belong to the browser
    // and the system) is never a shortcut. Shift is allowed: "?" needs it.
    ignored(event) {
      if (event.defaultPrevented || event.ctrlKey || event.altKey || event.metaKey) return true;
      const target = event.target;
      if (!(target instanceof Element)) return false;
      return Boolean(target.closest("input, textarea, select, [contenteditable]:not([contenteditable=false])")) ||
        Boolean(target.closest("dialog[open]"));
    },

    rows() { return $$("#task-rows > tr[data-sid]"); },

    current() {
      const sid = keyboard.currentSid;
      return sid ? keyboard.rows().find((row) => row.dataset.sid === sid) || null : null;
    },

    // One row at a time carries the mark and tabindex=-1 (focusable by script, not a Tab
    // stop of its own: Tab still walks the row's links and checkboxes).
    mark(row) {
      $$("#task-rows > tr.row-current").forEach((other) => {
        if (other === row) return;
        other.classList.remove("row-current");
        other.removeAttribute("tabindex");
        other.removeAttribute("aria-current");
      });
      if (!row) return;
      row.classList.add("row-current");
      row.setAttribute("tabindex", "-1");
      row.setAttribute("aria-current", "true");
    },

    // After anything replaced rows: the row with the current SID gets the mark again.
    keep() {
      if (keyboard.currentSid) keyboard.mark(keyboard.current());
    },

    move(step) {
      const rows = keyboard.rows();
      if (!rows.length) return false;
      const at = rows.indexOf(keyboard.current());
      const next = at < 0 ? rows[0] : rows[Math.max(0, Math.min(rows.length - 1, at + step))];
      keyboard.currentSid = next.dataset.sid;
      keyboard.mark(next);
      next.focus({ preventScroll: true });
      next.scrollIntoView({ block: "nearest" });
      return true;
    },

    // Enter and e act on the current row only while focus is on that row (or nowhere in
    // particular): on a link or button, Enter is that control's own.
    focusedRow() {
      const row = keyboard.current();
      const active = document.activeElement;
      if (!row || (active && active !== row && active !== document.body && active.id !== "main")) return null;
      return row;
    },

    open() {
      const row = keyboard.focusedRow();
      const link = row && $(".col-sid a[href], a[href]", row);
      if (!link) return false;
      link.click();
      return true;
    },

    edit() {
      const row = keyboard.focusedRow();
      const link = row && !row.dataset.editing && $(".col-actions a[data-row-edit]", row);
      if (!link) return false;
      link.click();
      return true;
    },

    search() {
      // The table's own box first; on any other page, the header's search of every task.
      const field = $("#filters #id_q") || $("#filters #id_where") || $("#id_q") || $("#id_where")
        || $("#site-search");
      if (!field) return false;
      field.focus();
      field.select();
      return true;
    },

    help() {
      const dialog = $("#shortcuts-help");
      if (!dialog || dialog.open) return false;
      dialog.showModal();
      return true;
    },

    // Escape with the row editor open but focus outside it (after e, or a click away).
    escape() {
      const row = keyboard.current();
      return Boolean(row && row.dataset.editing) && rowEditor.cancel(row);
    },

    keydown(event) {
      if (keyboard.ignored(event)) return false;
      switch (event.key) {
        case "/": return keyboard.search();
        case "j": return keyboard.move(1);
        case "k": return keyboard.move(-1);
        case "Enter": return keyboard.open();
        case "e": return keyboard.edit();
        case "?": return keyboard.help();
        default: return false;
      }
    },

    // A row swapped by htmx (the editor opening or closing) keeps the mark; when the
    // swap took focus with it, focus goes back to the row so j/k carry on from there.
    settled(target) {
      keyboard.keep();
      const row = keyboard.current();
      const swappedRow = target && target.dataset && target.dataset.sid === keyboard.currentSid;
      const active = document.activeElement;
      if (row && swappedRow && !row.dataset.editing && (!active || active === document.body)) {
        row.focus({ preventScroll: true });
      }
    },
  };

  // --- 10. Wiring: one listener per event type -----------------------------------------
  const on = (type, handler) => document.addEventListener(type, handler);

  on("htmx:beforeSwap", (event) => {
    rowEditor.beforeSwap(event.detail.target);
    answers.beforeSwap(event);
  });
  on("htmx:afterSettle", (event) => {
    const target = event.detail.target;
    zones.apply(document); // not just the target: out-of-band swaps bring times too
    answers.focusAfterRefusal(event);
    keyboard.settled(target);
    selection.count();
    selection.bulkSettled(target);
    if (target && target.id === "task-view") live.start();
    rowsAhead.start(); // new rows (a filter change, a live refresh) are drawn ahead too
  });
  on("htmx:beforeRequest", answers.beforeRequest);
  on("htmx:afterRequest", answers.afterRequest);
  on("htmx:sendError", answers.sendError);
  on("htmx:timeout", answers.timeout);
  on("htmx:configRequest", answers.configRequest);
  on("htmx:historyCacheMiss", answers.historyCacheMiss);
  on("htmx:historyRestore", () => {
    zones.apply(document);
    live.start();
  });

  on("change", (event) => {
    const field = event.target;
    if (!(field instanceof Element)) return;
    if (field.id === "live-interval") live.setInterval(field.value);
    else if (field.id === "time-zone") zones.choose(field.value);
    else if (field.matches("#select-all, .row-select")) selection.change(field);
    else filters.change(field);
  });
  on("click", (event) => {
    const target = event.target;
    if (!(target instanceof Element)) return;
    dropdowns.clickAway(target);
    if (target.id === "live-toggle") live.toggle();
    else if (target.matches("#alerts [data-dismiss]")) target.closest(".banner").remove();
    else rowEditor.open(event);
  });
  on("keydown", (event) => {
    if (event.key === "Escape") {
      // An open dialog closes itself on Escape (its cancel event); nothing else should.
      if (event.defaultPrevented || $("dialog[open]")) return;
      if (dropdowns.escape() || rowEditor.escape() || keyboard.escape()) event.preventDefault();
    } else if (keyboard.keydown(event)) {
      event.preventDefault();
    }
  });
  on("focusin", (event) => {
    if (event.target instanceof HTMLInputElement) rowEditor.focusIn(event.target);
  });
  on("mouseup", (event) => {
    if (event.target instanceof HTMLInputElement) rowEditor.mouseUp(event);
  });
  on("visibilitychange", () => {
    if (document.visibilityState === "visible") live.visible();
  });
  // Other parts of the page can ask for a refresh now (with what they just announced)
  // or for the selection count to be redrawn.
  on("taskdeck:refresh", (event) => live.refresh({ lead: event.detail && event.detail.lead }));
  on("taskdeck:selection", selection.count);
  on("DOMContentLoaded", () => {
    zones.start();
    live.start();
    rowsAhead.start();
  });
  window.setInterval(clock.tick, 5000);
})();
