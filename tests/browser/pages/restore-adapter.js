// A stand-in platform adapter for the restore tests (the real ones live in snippet/src/adapters/):
// it follows the adapter contract and records what the core hands it.
(function () {
  try {
    var cb = window.cartback, cfg = cb && cb.c;
    if (!cfg) return;
    window.__adapterRuns = (window.__adapterRuns || 0) + 1;
    window.__adapterSawConfig = cfg;
    cb('adapter', {
      restore: function (items) {
        window.__restoreCalls = (window.__restoreCalls || []).concat([items]);
        var refuse = window.__refuse || [];
        return new Promise(function (done) {
          setTimeout(function () {
            done({
              added: items.filter(function (i) { return refuse.indexOf(i.id) < 0; }).map(function (i) { return i.id; }),
              failed: items.filter(function (i) { return refuse.indexOf(i.id) >= 0; }).map(function (i) { return i.id; })
            });
          }, 50);
        });
      }
    });
  } catch (e) {}
})();
