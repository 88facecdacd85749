// What the page and the service worker share in IndexedDB: the device's
// credentials, its message counter, the last fix and receipt, and the
// outbox of alarms that have no receipt yet.
"use strict";

const vangnetStore = (() => {
  const DB = "vangnet-app";
  let opened = null;

  function open() {
    if (!opened) {
      opened = new Promise((resolve, reject) => {
        const request = indexedDB.open(DB, 1);
        request.onupgradeneeded = () => {
          request.result.createObjectStore("kv");
          request.result.createObjectStore("outbox", { keyPath: "seq" });
        };
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
    }
    return opened;
  }

  async function run(store, mode, work) {
    const db = await open();
    return new Promise((resolve, reject) => {
      const tx = db.transaction(store, mode);
      const result = work(tx.objectStore(store));
      tx.oncomplete = () => resolve(result && "result" in result ? result.result : undefined);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  }

  return {
    get: (key) => run("kv", "readonly", (s) => s.get(key)),
    put: (key, value) => run("kv", "readwrite", (s) => s.put(value, key)),
    remove: (key) => run("kv", "readwrite", (s) => s.delete(key)),
    queued: () => run("outbox", "readonly", (s) => s.getAll()),
    enqueue: (alarm) => run("outbox", "readwrite", (s) => s.put(alarm)),
    dequeue: (seq) => run("outbox", "readwrite", (s) => s.delete(seq)),
    // The next message counter: kept across restarts, so a (seq, ts) is never reused.
    nextSeq: async () => {
      const db = await open();
      return new Promise((resolve, reject) => {
        const tx = db.transaction("kv", "readwrite");
        const kv = tx.objectStore("kv");
        const read = kv.get("seq");
        let next = 1;
        read.onsuccess = () => {
          next = (read.result || 0) + 1;
          kv.put(next, "seq");
        };
        tx.oncomplete = () => resolve(next);
        tx.onerror = () => reject(tx.error);
      });
    },
  };
})();
