/* The job_status dashboard: a live list of jobs, a detail panel, cancel.
 * Text from jobs is always set with textContent: job messages are user data. */
(function () {
  "use strict";
  var root = document.querySelector(".job-status-dashboard");
  if (!root) return;
  var apiUrl = root.getAttribute("data-api-url");
  var interval = Number(root.getAttribute("data-interval")) || 2000;
  var rows = root.querySelector("#job-rows");
  var form = root.querySelector("form.filters");
  var errorBox = root.querySelector("#job-error");
  var detail = root.querySelector("#job-detail");
  var page = 1;
  var selected = null; // the task id clicked last
  var shown = null; // the task id the detail panel shows
  var poller = null;

  function cell(row, text, className) {
    var td = document.createElement("td");
    if (className) td.className = className;
    if (text !== undefined && text !== null) td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function progress(job) {
    var bar = document.createElement("progress");
    bar.max = 100;
    var value = JobStatus.percent(job);
    if (value !== null) bar.value = value;
    return bar;
  }

  function listUrl() {
    var params = new URLSearchParams();
    var data = new FormData(form);
    data.forEach(function (value, key) { if (value) params.append(key, value); });
    params.set("page", page);
    return apiUrl + "?" + params.toString();
  }

  function showList(body) {
    errorBox.textContent = "";
    rows.replaceChildren();
    body.results.forEach(function (job) {
      var row = document.createElement("tr");
      row.setAttribute("data-task-id", job.task_id);
      if (job.task_id === selected) row.className = "selected";
      var status = cell(row, job.status, "job-status-badge " + job.status);
      status.setAttribute("data-field", "status");
      cell(row, job.alias || job.job);
      cell(row, Object.keys(job.tags).map(function (key) {
        return job.tags[key] === null ? key : key + "=" + job.tags[key];
      }).join(", "));
      cell(row, null, "progress-cell").appendChild(progress(job));
      cell(row, job.exception_message || (job.latest_message ? job.latest_message.text : ""));
      cell(row, new Date(job.queued_at).toLocaleString());
      cell(row, job.runtime === null ? "" : job.runtime.toFixed(1) + " s");
      row.addEventListener("click", function () { select(job.task_id); });
      rows.appendChild(row);
    });
    root.querySelector("#job-prev").disabled = page <= 1;
    root.querySelector("#job-next").disabled = !body.has_next;
    root.querySelector("#job-page").textContent = page;
  }

  function showDetail(job) {
    if (job.task_id !== selected) return; // an answer for a job clicked before
    shown = job.task_id;
    detail.hidden = false;
    detail.querySelector("[data-field=title]").textContent = (job.alias || job.job) + " — " + job.task_id;
    detail.querySelector("[data-field=status]").textContent = job.status;
    detail.querySelector("[data-field=status]").className = "job-status-badge " + job.status;
    var bar = detail.querySelector("progress");
    var value = JobStatus.percent(job);
    if (value === null) bar.removeAttribute("value"); else bar.value = value;
    detail.querySelector("[data-field=exception]").textContent =
      job.exception_type ? job.exception_type + ": " + job.exception_message : "";
    var messages = detail.querySelector("[data-field=messages]");
    messages.replaceChildren();
    job.messages.forEach(function (message) {
      var item = document.createElement("li");
      item.textContent = "[" + message.level + "] " + message.text;
      messages.appendChild(item);
    });
    var timeline = detail.querySelector("[data-field=timeline]");
    timeline.replaceChildren();
    job.timeline.forEach(function (entry) {
      var item = document.createElement("li");
      item.textContent = new Date(entry.at).toLocaleTimeString() + " " + entry.event +
        (entry.attempt ? " (attempt " + entry.attempt + ")" : "") +
        (entry.exception_type ? " " + entry.exception_type + ": " + entry.exception_message : "") +
        (entry.note ? " — " + entry.note : "");
      timeline.appendChild(item);
    });
    var cancel = detail.querySelector("#job-cancel");
    cancel.hidden = !(job.can_control && !job.finished);
  }

  function hideDetail() {
    selected = shown = null;
    detail.hidden = true;
  }

  function select(taskId) {
    selected = taskId;
    detail.querySelector("[data-field=notice]").textContent = "";
    poller.now(); // through the poll loop: still one request in flight
  }

  function loadDetail() {
    if (!selected) return Promise.resolve();
    return JobStatus.getJSON(apiUrl + encodeURIComponent(selected) + "/").then(showDetail,
      function (error) {
        if (error.status === 404) { hideDetail(); return; } // gone (pruned), or not yours
        throw error;
      });
  }

  detail.querySelector("#job-cancel").addEventListener("click", function () {
    var button = this;
    var taskId = shown; // the job on screen, whatever was clicked since
    if (!taskId) return;
    button.disabled = true;
    JobStatus.postJSON(apiUrl + encodeURIComponent(taskId) + "/cancel/").then(function (body) {
      detail.querySelector("[data-field=notice]").textContent = body.cancelled
        ? "Cancelled." : "Cancel requested: the job stops at its next check.";
    }, function (error) {
      detail.querySelector("[data-field=notice]").textContent = error.message;
    }).then(function () { button.disabled = false; poller.now(); });
  });

  function refresh() { poller.now(); }
  form.addEventListener("change", function () { page = 1; refresh(); });
  form.addEventListener("submit", function (event) { event.preventDefault(); page = 1; refresh(); });
  root.querySelector("#job-prev").addEventListener("click", function () {
    if (page > 1) { page -= 1; refresh(); }
  });
  root.querySelector("#job-next").addEventListener("click", function () {
    this.disabled = true; // until the next page has answered: a double click skips none
    page += 1;
    refresh();
  });

  function askedFor(url) {
    // A click (Next, a filter) while the request was in flight: its answer is
    // for a page no longer wanted, and drawn it would show under the new page's
    // label. Drop it and ask for the wanted page next, through the poll loop
    // (still one request in flight).
    if (url === listUrl()) return true;
    poller.now();
    return false;
  }

  function loadList() {
    var url = listUrl();
    return JobStatus.getJSON(url).then(function (body) {
      if (askedFor(url)) showList(body);
    }, function (error) {
      if (!askedFor(url)) return;
      rows.replaceChildren(); // rows that no longer match what is asked
      errorBox.textContent = error.message;
      throw error;
    });
  }

  poller = JobStatus.poll(function () {
    return loadList().then(loadDetail);
  }, { interval: interval });
})();
