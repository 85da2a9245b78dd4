// How the Draw screen judges a drawing. One zero-shot call compares the
// drawing with sentences about the prompt, its distractors and, for models
// that can read, the prompt written out as words; the score, the rank and
// the writing check all come from those probabilities. No DOM here, so Node
// can test it.
//
// Why a softmax and not the raw cosine: CLIP's cosine similarities sit in a
// narrow band (about 0.2 to 0.35 for real weights) that differs from prompt
// to prompt, so "0.27" means nothing to a player. The probability that the
// model picks the prompt rather than one of its distractors is a 0 to 1
// figure that a good drawing pushes towards 1 on any prompt.

/** The sentence a drawing of a prompt is compared with (the sketch model's training captions say it this way). */
export const DRAWING_TEMPLATE = "a drawing of {}";

/** The prompt as writing: what paint.wtf's players put on the canvas instead of a drawing. */
export const WRITING_TEMPLATES = ['the written words "{}"', 'text that says "{}"'];

/** The prompt and its distractors: the rank is out of this many. */
export const CANDIDATES = 20;

const fill = (template, text) => template.replaceAll("{}", text);

/** FNV-1a: a string's 32-bit hash, the seed of its distractors. */
function hash(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** mulberry32: a small seeded generator, the same in every browser. */
function random(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) >>> 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/**
 * The prompts a drawing of `prompt` competes with: the rest of a small pool,
 * or a sample of a large one fixed by the prompt, so that every drawing of
 * a prompt is judged against the same field and its leaderboard is fair.
 */
export function distractors(prompt, pool, count = CANDIDATES - 1) {
  const others = [...new Set(pool)].filter((other) => other !== prompt);
  const next = random(hash(prompt));
  // A partial Fisher-Yates shuffle: the first `count` are a uniform sample.
  for (let i = 0; i < Math.min(count, others.length); i++) {
    const j = i + Math.floor(next() * (others.length - i));
    [others[i], others[j]] = [others[j], others[i]];
  }
  return others.slice(0, count);
}

/**
 * What a drawing of `prompt` is judged against: `labels` (the prompt first,
 * then its distractors) and `sentences`, the model's input: one drawing
 * sentence per label, then the writing sentences when `readsText`.
 */
export function contest(prompt, pool, { readsText }) {
  const labels = [prompt, ...distractors(prompt, pool)];
  const writing = readsText ? WRITING_TEMPLATES.map((template) => fill(template, prompt)) : [];
  return { prompt, labels, sentences: [...labels.map((label) => fill(DRAWING_TEMPLATE, label)), ...writing] };
}

/**
 * The verdict on a drawing from the model's probabilities over
 * `contest.sentences` (a softmax over all of them).
 *
 * - `likeness`: the softmax over the drawing sentences alone, at the prompt.
 *   A softmax restricted to some of its entries is those entries divided by
 *   their sum, so one model call serves both this and the writing check.
 * - `rank`: 1 when the model likes the prompt best among the candidates.
 * - `writing`: how much more the drawing looks like the prompt written as
 *   words than like a drawing of it, as the two-way softmax of the best
 *   writing sentence against the drawing sentence; `flagged` above one half.
 * - `score`: 100 x likeness x (1 - writing), rounded. A real drawing loses
 *   next to nothing to the second factor; the written prompt loses almost all.
 */
export function judge({ labels }, probs) {
  const n = labels.length;
  const drawing = Array.from(probs.slice(0, n));
  const total = drawing.reduce((sum, p) => sum + p, 0) || 1;
  const guesses = labels.map((label, i) => ({ label, prob: drawing[i] / total })).sort((a, b) => b.prob - a.prob);
  const likeness = drawing[0] / total;
  const rank = 1 + drawing.filter((p) => p > drawing[0]).length;
  const written = Math.max(0, ...Array.from(probs.slice(n)));
  const writing = written > 0 ? written / (written + drawing[0]) : 0;
  return {
    score: Math.round(100 * likeness * (1 - writing)),
    likeness,
    rank,
    of: n,
    guesses,
    writing,
    flagged: writing > 0.5,
  };
}
