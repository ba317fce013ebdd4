/*
 * Taskdeck's behaviour, in one static file (the Content-Security-Policy allows no inline
 * script and htmx runs with allowEval off). Everything here listens to DOM and htmx events.
 */
(function () {
  "use strict";

  const $ = (selector, root) => (root || document).querySelector(selector);
  const $$ = (selector, root) => Array.from((root || document).querySelectorAll(selector));

  // --- Messages: one persistent live region for status, one for alerts ----------------
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
    close.textContent = "Dismiss";
    close.addEventListener("click", () => item.remove());
    item.append(p, close);
    region.replaceChildren(item);
  }

  // --- htmx: show our error fragments where the user is; explain everything else ------
  document.addEventListener("htmx:beforeSwap", (event) => {
    const xhr = event.detail.xhr;
    if (xhr.status >= 400) {
      if (xhr.getResponseHeader("Taskdeck-Fragment") === "1") {
        // Validation errors, conflicts and TaskRouter problems come as fragments made
        // for the spot the request came from: swap them in like a success.
        event.detail.shouldSwap = true;
        event.detail.isError = false;
      } else if (xhr.status === 401 || xhr.status === 403) {
        alertUser("Your session may have expired. Reload the page to sign in again; " +
                  "anything you typed is still in the form.");
      } else {
        alertUser("Taskdeck could not do that (HTTP " + xhr.status + "). " +
                  "Nothing you typed is lost; try again, or reload the page.");
      }
    }
  });

  document.addEventListener("htmx:sendError", () => {
    alertUser("Taskdeck cannot be reached. Check your connection; " +
              "what you typed is still here, so try again in a moment.");
  });
  document.addEventListener("htmx:timeout", () => {
    alertUser("Taskdeck took too long to answer. Try again in a moment.");
  });

  document.addEventListener("htmx:beforeRequest", (event) => {
    const target = event.detail.target;
    if (target) target.setAttribute("aria-busy", "true");
  });
  document.addEventListener("htmx:afterRequest", (event) => {
    const target = event.detail.target;
    if (target) target.removeAttribute("aria-busy");
    if (event.detail.successful && $("#alerts")) $("#alerts").replaceChildren();
  });
  // After a refused save the button that was pressed is gone: put keyboard focus on the
  // first field to fix (or the conflict to read), and say so in the live region.
  document.addEventListener("htmx:afterSettle", (event) => {
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
  });

  // htmx snapshots the page for Back while the request that leaves it is still running:
  // without this, a restored view would stay busy (dimmed, and never refreshed again).
  document.addEventListener("htmx:beforeHistorySave", (event) => {
    $$("[aria-busy]", event.detail.historyElt).forEach((el) => el.removeAttribute("aria-busy"));
  });

  // Runbook links stay short: empty filter fields are left out of the URL htmx pushes.
  document.addEventListener("htmx:configRequest", (event) => {
    if (event.detail.verb !== "get" || !event.detail.elt.closest("form[data-auto-submit]")) return;
    const params = event.detail.parameters;
    Array.from(params.keys()).forEach((key) => {
      if (params.getAll(key).every((value) => value === "")) params.delete(key);
    });
  });

  // --- Filters: menus and checkboxes apply at once; text fields on Enter --------------
  document.addEventListener("change", (event) => {
    const field = event.target;
    const form = field.closest && field.closest("form[data-auto-submit]");
    if (!form) return;
    if (field.matches("select, input[type=checkbox], input[type=radio]")) {
      form.requestSubmit();
    }
  });

  // --- Selection on the task table ---------------------------------------------------
  document.addEventListener("change", (event) => {
    const box = event.target;
    if (box.id === "select-all") {
      $$("#task-rows .row-select").forEach((row) => { row.checked = box.checked; });
    }
    if (box.id === "select-all" || box.classList.contains("row-select")) {
      document.dispatchEvent(new CustomEvent("taskdeck:selection"));
    }
  });

  function selectedSids() {
    return new Set($$("#task-rows .row-select:checked").map((box) => box.value));
  }

  // --- Live refresh ------------------------------------------------------------------
  const live = {
    timer: null,
    inFlight: false,
    failures: 0,
  };

  function liveControls() { return $("#live-controls"); }

  function livePaused() { return window.localStorage.getItem("taskdeck.live.paused") === "1"; }

  function liveInterval() {
    const controls = liveControls();
    const stored = Number(window.localStorage.getItem("taskdeck.live.interval"));
    const fallback = Number(controls && controls.dataset.refreshSeconds) || 15;
    return (stored > 0 ? stored : fallback) * 1000;
  }

  function renderLiveControls() {
    const controls = liveControls();
    if (!controls) return;
    controls.hidden = false;
    const toggle = $("#live-toggle", controls);
    const paused = livePaused();
    // A toggle button keeps its label; its pressed state says whether updates are paused.
    toggle.setAttribute("aria-pressed", paused ? "true" : "false");
    if (paused) setLiveState("Paused.");
    else if ($("#live-state") && $("#live-state").textContent === "Paused.") setLiveState("");
    const select = $("#live-interval", controls);
    const seconds = String(liveInterval() / 1000);
    if (!$$("option", select).some((o) => o.value === seconds)) {
      const option = document.createElement("option");
      option.value = seconds;
      option.textContent = seconds + " s";
      select.append(option);
    }
    select.value = seconds;
  }

  function scheduleRefresh() {
    window.clearTimeout(live.timer);
    if (!liveControls() || livePaused()) return;
    // Back off while TaskRouter is failing, so a fleet of open tabs does not pile on.
    const delay = liveInterval() * Math.min(4, 1 + live.failures);
    live.timer = window.setTimeout(refreshRows, delay);
  }

  function setLiveState(text) {
    const state = $("#live-state");
    if (state) state.textContent = text;
  }

  // `lead`: what the page has just announced and the refresh must not talk over (a bulk
  // action's outcome); a live update then says it again, followed by what changed.
  function refreshRows(lead) {
    const controls = liveControls();
    const body = $("#task-rows");
    if (!controls || !body) return;
    if (document.visibilityState !== "visible" || live.inFlight ||
        $("#task-view[aria-busy=true]")) {
      scheduleRefresh();
      return;
    }
    live.inFlight = true;
    const url = controls.dataset.refreshUrl;
    fetch(url, {
      headers: { "HX-Request": "true", "HX-Target": "task-rows", "HX-Current-URL": window.location.href },
      credentials: "same-origin",
    }).then((response) => response.text().then((text) => ({ response, text })))
      .then(({ response, text }) => {
        const template = document.createElement("template");
        template.innerHTML = text;
        if (!response.ok) {
          const reason = $(".banner p", template.content);
          throw new Error(reason ? reason.textContent : "HTTP " + response.status);
        }
        const fresh = $("#task-rows", template.content);
        if (!fresh) throw new Error("unexpected answer");
        // The view may have been swapped while this request ran; only merge into the
        // table this request was for.
        if (controls.isConnected && liveControls() === controls) mergeRows($("#task-rows"), fresh, lead);
        live.failures = 0;
        setLiveState("");
      })
      .catch((error) => {
        live.failures += 1;
        setLiveState("Refresh failed: " + error.message + " Retrying.");
        $("#data-age") && $("#data-age").classList.add("stale");
      })
      .finally(() => {
        live.inFlight = false;
        scheduleRefresh();
      });
  }

  function mergeRows(body, fresh, lead) {
    const selected = selectedSids();
    const focusedId = document.activeElement && document.activeElement.id;
    const oldRows = new Map(Array.from(body.rows).map((row) => [row.dataset.sid, row]));
    let changed = 0;
    let added = 0;
    const rows = Array.from(fresh.rows).map((row) => {
      const old = oldRows.get(row.dataset.sid);
      oldRows.delete(row.dataset.sid);
      if (!old) {
        added += 1;
        row.classList.add("row-added");
        return row;
      }
      if (old.dataset.editing) {
        // Someone is editing this row: never replace it under them; the editor itself
        // detects a newer version when saving.
        if (old.dataset.version !== row.dataset.version) old.classList.add("row-stale");
        return old;
      }
      if (old.dataset.version !== row.dataset.version) {
        changed += 1;
        row.classList.add("row-changed");
        return row;
      }
      // Unchanged: keep the element (and any focus in it); only the age moves on.
      const age = $(".col-age", old);
      const newAge = $(".col-age", row);
      if (age && newAge) {
        age.textContent = newAge.textContent;
        age.title = newAge.title;
      }
      return old;
    });
    const removed = oldRows.size;
    const sameOrder = rows.length === body.rows.length &&
      rows.every((row, index) => body.rows[index] === row);
    if (!sameOrder) {
      body.replaceChildren(...rows);
    } else {
      rows.forEach((row, index) => {
        if (body.rows[index] !== row) body.rows[index].replaceWith(row);
      });
    }
    rows.forEach((row) => {
      const box = $(".row-select", row);
      if (box) box.checked = selected.has(row.dataset.sid);
      if (row.classList.contains("row-changed") || row.classList.contains("row-added")) {
        window.htmx && window.htmx.process(row);
      }
    });
    if (focusedId && document.activeElement && document.activeElement.id !== focusedId) {
      const again = document.getElementById(focusedId);
      if (again) again.focus({ preventScroll: true });
    }
    body.dataset.readAt = fresh.dataset.readAt;
    updateDataAge();
    const count = $("#row-count");
    if (count) count.textContent = rows.length + (rows.length === 1 ? " task" : " tasks") + " on this page";
    const notes = [];
    if (changed) notes.push(changed + (changed === 1 ? " task changed" : " tasks changed"));
    if (added) notes.push(added + (added === 1 ? " task appeared" : " tasks appeared"));
    if (removed) notes.push(removed + (removed === 1 ? " task left this view" : " tasks left this view"));
    if (notes.length) announce((lead ? lead + " " : "") + "Live update: " + notes.join(", ") + ".");
    document.dispatchEvent(new CustomEvent("taskdeck:selection"));
  }

  function updateDataAge() {
    const label = $("#data-age");
    const body = $("#task-rows");
    if (!label || !body) return;
    const readAt = new Date(body.dataset.readAt || label.dataset.readAt);
    if (Number.isNaN(readAt.getTime())) return;
    const seconds = Math.max(0, Math.round((Date.now() - readAt.getTime()) / 1000));
    const clock = readAt.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
    const ago = seconds < 60 ? seconds + " s ago" : Math.floor(seconds / 60) + " min ago";
    label.textContent = "as of " + clock + " (" + ago + ")";
    label.classList.toggle("stale", seconds * 1000 > 2 * liveInterval() + 5000);
  }

  function startLive() {
    renderLiveControls();
    updateDataAge();
    scheduleRefresh();
  }

  document.addEventListener("click", (event) => {
    if (event.target.id !== "live-toggle") return;
    const paused = !livePaused();
    window.localStorage.setItem("taskdeck.live.paused", paused ? "1" : "0");
    renderLiveControls();
    announce(paused ? "Live updates paused." : "Live updates resumed.");
    if (paused) window.clearTimeout(live.timer); else refreshRows();
  });

  document.addEventListener("change", (event) => {
    if (event.target.id !== "live-interval") return;
    window.localStorage.setItem("taskdeck.live.interval", event.target.value);
    scheduleRefresh();
  });

  // Something else changed tasks on this page (a bulk action finished): refresh now.
  document.addEventListener("taskdeck:refresh", (event) => refreshRows(event.detail && event.detail.lead));

  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") {
      const body = $("#task-rows");
      const readAt = body ? new Date(body.dataset.readAt) : null;
      // Back after a while: refresh at once instead of showing old data for a full interval.
      if (readAt && Date.now() - readAt.getTime() > liveInterval()) refreshRows();
      else scheduleRefresh();
    }
  });

  window.setInterval(updateDataAge, 5000);
  document.addEventListener("DOMContentLoaded", startLive);
  document.addEventListener("htmx:historyRestore", startLive);
  document.addEventListener("htmx:afterSettle", (event) => {
    if (event.detail.target && event.detail.target.id === "task-view") startLive();
  });
})();

/* Bulk actions: say how many rows are selected. */
(function () {
  "use strict";
  function updateCount() {
    const label = document.getElementById("selection-count");
    if (!label) return;
    const count = document.querySelectorAll("#task-rows .row-select:checked").length;
    label.textContent = count ? "(" + count + " selected)" : "(tick rows to select them)";
  }
  document.addEventListener("taskdeck:selection", updateCount);
  document.addEventListener("htmx:afterSettle", updateCount);
})();

/* Bulk actions: when a job finishes, the table shows the tasks as they are now. */
document.addEventListener("htmx:afterSettle", (event) => {
  "use strict";
  const target = event.detail.target;
  const finished = target && target.id === "bulk-panel" && target.querySelector("[data-bulk-finished]");
  if (finished) {
    // The refresh's own announcement keeps the job's outcome in front of it.
    document.dispatchEvent(new CustomEvent("taskdeck:refresh", { detail: { lead: finished.dataset.bulkFinished } }));
  }
});
