// The Draw screen's leaderboards, kept in this browser (IndexedDB): one per
// prompt and model, since scores from different models do not compare.

const DATABASE = "webclip-game";
const STORE = "drawings";
const BOARD = "board";

let opened = null;

function database() {
  opened ??= new Promise((resolve, reject) => {
    const request = indexedDB.open(DATABASE, 1);
    request.onupgradeneeded = () => {
      const store = request.result.createObjectStore(STORE, { keyPath: "id", autoIncrement: true });
      store.createIndex(BOARD, ["model", "prompt"]);
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  }).catch((error) => {
    // Private windows of some browsers refuse IndexedDB: try again next time.
    opened = null;
    throw new Error(`this browser keeps no leaderboard here (${error?.message ?? error})`);
  });
  return opened;
}

/** Runs `work(store)` in one transaction; resolves with its request's result once committed. */
async function transaction(mode, work) {
  const db = await database();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, mode);
    const request = work(tx.objectStore(STORE));
    tx.oncomplete = () => resolve(request?.result);
    tx.onerror = tx.onabort = () => reject(tx.error);
  });
}

/**
 * Adds a drawing: `{ model, prompt, name, score, rank, of, flagged, date,
 * thumbnail, drawing }`, the last two PNG Blobs. Resolves with its id.
 */
export function addEntry(entry) {
  return transaction("readwrite", (store) => store.add(entry));
}

/** The board of `prompt` under `model`, best score first (the earlier drawing first on a tie). */
export async function entries(model, prompt) {
  const all = await transaction("readonly", (store) => store.index(BOARD).getAll([model, prompt]));
  return all.sort((a, b) => b.score - a.score || a.date - b.date);
}

/** Deletes the board of `prompt` under `model`. */
export function clearBoard(model, prompt) {
  return transaction("readwrite", (store) => {
    const cursor = store.index(BOARD).openKeyCursor(IDBKeyRange.only([model, prompt]));
    cursor.onsuccess = () => {
      if (!cursor.result) return;
      store.delete(cursor.result.primaryKey);
      cursor.result.continue();
    };
  });
}

/** Deletes every board. */
export function clearAll() {
  return transaction("readwrite", (store) => store.clear());
}
