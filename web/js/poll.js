// Polling with back-off: quick while things change, slower while they do not,
// paused while the tab is hidden, stopped when the view goes away.

/**
 * `tick()` returns {again: boolean, changed: boolean}. While `again`, it runs
 * again after a delay that starts at `min`, grows by `factor` up to `max`
 * while nothing changes, and falls back to `min` when something does.
 */
export function poller(tick, { min = 1000, max = 15000, factor = 1.6 } = {}) {
  let delay = min;
  let timer = null;
  let stopped = false;
  let running = false;
  let rerun = false; // now() was asked for while a tick was running

  async function run() {
    timer = null;
    if (stopped) return;
    if (running) {
      rerun = true;
      return;
    }
    if (document.hidden) return; // resumed by visibilitychange
    running = true;
    let result = { again: true, changed: false };
    try {
      result = (await tick()) || { again: false };
    } catch (error) {
      result = { again: !(error && error.status === 401), changed: false };
    } finally {
      running = false;
    }
    if (stopped) return;
    if (rerun) {
      rerun = false;
      delay = min;
      run();
      return;
    }
    if (!result.again) return;
    delay = result.changed ? min : Math.min(max, Math.round(delay * factor));
    timer = window.setTimeout(run, delay);
  }

  function onVisible() {
    if (!document.hidden && !stopped && timer === null && !running) {
      delay = min;
      run();
    }
  }

  document.addEventListener("visibilitychange", onVisible);
  return {
    /** Run now (and keep going while needed). */
    now() {
      if (stopped) return;
      if (timer !== null) window.clearTimeout(timer);
      delay = min;
      run();
    },
    stop() {
      stopped = true;
      if (timer !== null) window.clearTimeout(timer);
      document.removeEventListener("visibilitychange", onVisible);
    },
  };
}
