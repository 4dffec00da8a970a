/* Retrying without flooding a server that is down (DESIGN.md, decision 15), for the chat
   page in the widget's iframe and the admin pages. The loader (widget.js) keeps a copy of
   the schedule, since it must stay self-contained; bench/herd.py mirrors it.

   - One timer per concern: a concern that failed schedules its next try only if none is
     pending, and a success resets its schedule.
   - The schedule: exponential backoff with full jitter, anywhere between 0 and a ceiling
     that doubles from 1 s up to 60 s.
   - One probe for the tab: once a request has failed for want of a server (no answer, or
     a 5xx), the tab is "down": every concern that needs the server waits in one line and
     one try at a time goes out, on the tab's own schedule. The first answer brings the tab
     back up and lets everything that waited go at once.
   - A hidden tab retries nothing but one slow probe (every 2.5 to 5 minutes); showing it
     again probes at once. */
(function () {
  "use strict";
  var BASE = 1000, CAP = 60000, HIDDEN = 300000;

  function delay(attempt) { return Math.random() * Math.min(CAP, BASE * Math.pow(2, attempt)); }
  function slow() { return HIDDEN * (0.5 + Math.random() / 2); }

  /* ---- the tab's link to the server ------------------------------------- */
  var waiting = [], attempt = 0, timer = null, watchers = [];
  var link = { down: false };

  function setDown(on) {
    if (link.down === on) return;
    link.down = on;
    watchers.forEach(function (fn) { fn(on); });
  }
  function schedule(atLeast) {
    if (timer) return;
    var wait = document.hidden ? slow() : Math.max(atLeast || 0, delay(attempt++));
    timer = setTimeout(probe, wait);
  }
  // One waiting try goes out; a try that no longer applies (its stream closed) says so.
  function probe() {
    timer = null;
    var task;
    while ((task = waiting.shift()) && task() === false) { /* next */ }
  }
  function enqueue(task) { if (waiting.indexOf(task) < 0) waiting.push(task); }

  /* No answer (or a 5xx) for a request that must be made again: ``task`` tries again when
     the tab's schedule says so, or as soon as another request gets an answer.
     ``atLeast`` (ms): the server's Retry-After. */
  link.lost = function (task, atLeast) {
    setDown(true);
    if (task) enqueue(task);
    schedule(atLeast);
  };
  /* Run ``task`` now, unless the tab is down or hidden: then it waits its turn. */
  link.when = function (task) {
    if (!link.down && !document.hidden) { task(); return; }
    enqueue(task);
    schedule();
  };
  /* An answer came: the server is there. */
  link.found = function () {
    attempt = 0;
    clearTimeout(timer); timer = null;
    setDown(false);
    var tasks = waiting;
    waiting = [];
    tasks.forEach(function (task) { task(); });
  };
  link.watch = function (fn) { watchers.push(fn); };

  function now() {
    if (!waiting.length) return;
    clearTimeout(timer); timer = null;
    probe();
  }
  document.addEventListener("visibilitychange", function () {
    if (document.hidden) return;
    // Back in view: try at once (one request) rather than after a slow timer.
    now();
  });
  window.addEventListener("online", now);

  /* ---- one concern's own schedule (a stream that fails while the server answers) ---- */
  function Retry(task) { this.task = task; this.attempt = 0; this.timer = null; }
  /* Try again later (unless a try is already pending). When the time comes and the tab is
     down or hidden, the try waits for the tab's probe instead of going out itself. */
  Retry.prototype.fail = function (atLeast) {
    if (this.timer) return;
    var self = this;
    // Should the tab go down, its schedule carries on from this concern's, not from 1 s again.
    attempt = Math.max(attempt, this.attempt + 1);
    this.timer = setTimeout(function () {
      self.timer = null;
      link.when(self.task);
    }, Math.max(atLeast || 0, delay(this.attempt++)));
  };
  Retry.prototype.ok = function () { this.attempt = 0; this.cancel(); };
  Retry.prototype.cancel = function () { clearTimeout(this.timer); this.timer = null; };

  /* The Retry-After of a response, in ms (0 when absent). */
  function retryAfter(response) {
    var value = response && (response.headers ? response.headers.get("Retry-After")
      : response.getResponseHeader && response.getResponseHeader("Retry-After"));
    var seconds = parseInt(value || "", 10);
    return seconds > 0 ? seconds * 1000 : 0;
  }

  window.chatBackoff = { link: link, Retry: Retry, delay: delay, retryAfter: retryAfter };
})();
