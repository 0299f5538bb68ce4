/* job_status: live job status in the browser, without a build step.
 *
 * JobStatus.poll(load, options) calls load() (which returns a promise), waits
 * for it to settle, then waits `interval` ms and calls it again: never two
 * requests in flight. While the tab is hidden it waits `hiddenInterval` ms
 * instead (backing off), and polls at once when the tab is shown again.
 *
 * Widgets: any element with data-job-status-url (set by the {% job_progress %}
 * template tag) shows the status, progress and latest message of the job that
 * URL returns (a job, or the newest job of a list).
 */
(function (global) {
  "use strict";

  function poll(load, options) {
    var interval = (options && options.interval) || 1000;
    var hiddenInterval = (options && options.hiddenInterval) || 15000;
    var maxBackoff = (options && options.maxBackoff) || 60000;
    var timer = null;
    var inFlight = false;
    var again = false; // now() was asked while a request was in flight
    var stopped = false;
    var failures = 0;

    function delay() {
      var base = document.hidden ? hiddenInterval : interval;
      // After failures, wait longer each time (a server down, a session expired).
      return failures ? Math.min(base * Math.pow(2, failures), Math.max(base, maxBackoff)) : base;
    }

    function schedule() {
      if (stopped) return;
      clearTimeout(timer);
      timer = setTimeout(run, again ? 0 : delay());
      again = false;
    }

    function run() {
      if (stopped) return;
      if (inFlight) { again = true; return; }
      inFlight = true;
      clearTimeout(timer);
      Promise.resolve()
        .then(load)
        .then(function (keepGoing) {
          failures = 0;
          if (keepGoing === false) stopped = true;
        }, function () { failures += 1; })
        .then(function () {
          inFlight = false;
          schedule();
        });
    }

    document.addEventListener("visibilitychange", function () {
      if (!document.hidden) run();
    });
    run();
    return {
      // Poll as soon as possible, still one request at a time.
      now: run,
      stop: function () { stopped = true; clearTimeout(timer); },
    };
  }

  function answer(response) {
    var type = response.headers.get("Content-Type") || "";
    if (type.indexOf("application/json") === -1) {
      // An HTML error page (a CSRF failure, a server error): say what it was.
      var error = new Error(response.status + " " + response.statusText);
      error.status = response.status;
      throw error;
    }
    return response.json().then(function (body) {
      if (!response.ok) {
        var failed = new Error(body.error || response.statusText);
        failed.status = response.status;
        throw failed;
      }
      return body;
    });
  }

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(answer);
  }

  function csrfToken() {
    // The page's own token first: the cookie's name is a setting (CSRF_COOKIE_NAME).
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (input) return input.value;
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function postJSON(url) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
    }).then(answer);
  }

  function percent(job) {
    if (job.status === "succeeded") return 100;
    return typeof job.progress === "number" ? Math.max(0, Math.min(100, job.progress)) : null;
  }

  function renderWidget(element, job) {
    var status = element.querySelector("[data-job-status-status]");
    var bar = element.querySelector("progress");
    var label = element.querySelector("[data-job-status-percent]");
    var message = element.querySelector("[data-job-status-message]");
    element.setAttribute("data-status", job ? job.status : "none");
    if (!job) {
      status.textContent = element.getAttribute("data-job-status-empty") || "No job yet";
      bar.removeAttribute("value");
      label.textContent = "";
      message.textContent = "";
      return;
    }
    status.textContent = job.status;
    var value = percent(job);
    if (value === null) {
      bar.removeAttribute("value");
      label.textContent = "";
    } else {
      bar.value = value;
      label.textContent = Math.round(value) + "%";
    }
    var latest = job.exception_message || (job.latest_message && job.latest_message.text) || "";
    message.textContent = latest;
  }

  function startWidget(element) {
    if (element.getAttribute("data-job-status-started")) return;
    element.setAttribute("data-job-status-started", "1");
    var url = element.getAttribute("data-job-status-url");
    var interval = Number(element.getAttribute("data-job-status-interval")) || 1000;
    poll(function () {
      return getJSON(url).then(function (body) {
        var job = body.results ? body.results[0] || null : body;
        renderWidget(element, job);
        // One job that has finished will not change again; a selection may get a new one.
        return !(job && job.finished && !body.results);
      }, function (error) {
        element.setAttribute("data-status", "error");
        element.querySelector("[data-job-status-status]").textContent = error.message;
        // No such job (or not yours): asking again will not change that.
        if (error.status === 404) return false;
        throw error; // polled again later, backing off
      });
    }, { interval: interval });
  }

  function startWidgets(root) {
    root = root || document;
    if (root.matches && root.matches("[data-job-status-url]")) startWidget(root);
    root.querySelectorAll("[data-job-status-url]").forEach(startWidget);
  }

  global.JobStatus = {
    poll: poll,
    getJSON: getJSON,
    postJSON: postJSON,
    percent: percent,
    startWidgets: startWidgets,
  };

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { startWidgets(); });
  } else {
    startWidgets();
  }
})(window);
