// A drawing canvas for mouse, touch and pen (pointer events). The drawing is
// kept as a list of strokes, so undo redraws it without that stroke and the
// exported picture has no trace of the screen's size.

/** The sheet behind the drawing: an off-white like the paper of the sketch model's training drawings. */
export const PAPER = "#fcfbf7";

export class Sketchpad {
  /** Pen colour (a CSS colour), width in canvas pixels, and whether the pen erases. */
  color = "#1c1c20";
  size = 14;
  erasing = false;

  #canvas;
  #context;
  #onChange;
  /** Strokes and clears, oldest first; undo drops the last. */
  #actions = [];
  /** The stroke being drawn and the pointer drawing it (other fingers are ignored meanwhile). */
  #stroke = null;
  #pointer = null;
  /** Bumped on every change: tells a result which drawing it belongs to. */
  version = 0;

  /** `onChange` runs after every finished stroke, undo and clear. */
  constructor(canvas, { onChange = () => {} } = {}) {
    this.#canvas = canvas;
    this.#context = canvas.getContext("2d");
    this.#onChange = onChange;
    canvas.addEventListener("pointerdown", (event) => this.#down(event));
    canvas.addEventListener("pointermove", (event) => this.#move(event));
    canvas.addEventListener("pointerup", (event) => this.#up(event));
    canvas.addEventListener("pointercancel", (event) => this.#up(event));
    this.#redraw();
  }

  /** True when nothing is drawn (erased strokes still count: the sheet may look blank). */
  get isEmpty() {
    return this.#visibleStrokes().length === 0;
  }

  get canUndo() {
    return this.#actions.length > 0;
  }

  undo() {
    if (!this.#actions.length) return;
    this.#actions.pop();
    this.#changed();
  }

  /** Clears the sheet; undo brings the drawing back. */
  clear() {
    if (this.isEmpty) return;
    this.#actions.push({ clear: true });
    this.#changed();
  }

  /** Starts over with an empty sheet and no history (a new prompt); a stroke under way ends here. */
  reset() {
    this.#actions = [];
    this.#stroke = this.#pointer = null;
    this.#changed();
  }

  /** The drawing as a PNG file, at `size` pixels square (the canvas's own size when omitted). */
  async toBlob(size) {
    let canvas = this.#canvas;
    if (size && size !== canvas.width) {
      canvas = document.createElement("canvas");
      canvas.width = canvas.height = size;
      const context = canvas.getContext("2d");
      context.imageSmoothingQuality = "high";
      context.drawImage(this.#canvas, 0, 0, size, size);
    }
    return new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
  }

  #changed() {
    this.version++;
    this.#redraw();
    this.#onChange();
  }

  #visibleStrokes() {
    const lastClear = this.#actions.findLastIndex((action) => action.clear);
    return this.#actions.slice(lastClear + 1);
  }

  #redraw() {
    const context = this.#context;
    context.fillStyle = PAPER;
    context.fillRect(0, 0, this.#canvas.width, this.#canvas.height);
    for (const stroke of this.#visibleStrokes()) this.#paint(stroke, 0);
  }

  /**
   * Paints `stroke` from its point `from` on: a dot at the first point, then
   * segments with round ends, each as wide as the pressure at its end. Drawing
   * while the pointer moves and redrawing after an undo paint the same things
   * in the same order, so they give the same pixels.
   */
  #paint(stroke, from) {
    const context = this.#context;
    const { points } = stroke;
    context.strokeStyle = context.fillStyle = stroke.color;
    context.lineCap = "round";
    if (from === 0) {
      const [{ x, y, width }] = points;
      context.beginPath();
      context.arc(x, y, width / 2, 0, 2 * Math.PI);
      context.fill();
    }
    for (let i = Math.max(1, from); i < points.length; i++) {
      context.lineWidth = points[i].width;
      context.beginPath();
      context.moveTo(points[i - 1].x, points[i - 1].y);
      context.lineTo(points[i].x, points[i].y);
      context.stroke();
    }
  }

  /** A pointer event's position in canvas pixels, with the pen's width there. */
  #point(event, rect) {
    // Mice report a pressure of 0.5 while pressed and touch screens rarely
    // report a real one: only pens vary the width (half to one and a half times).
    const pressure = event.pointerType === "pen" && event.pressure > 0 ? event.pressure : 0.5;
    return {
      x: ((event.clientX - rect.left) * this.#canvas.width) / rect.width,
      y: ((event.clientY - rect.top) * this.#canvas.height) / rect.height,
      width: this.size * (0.5 + pressure),
    };
  }

  #down(event) {
    if (this.#pointer !== null || event.button !== 0) return;
    event.preventDefault();
    this.#pointer = event.pointerId;
    this.#canvas.setPointerCapture(event.pointerId);
    const rect = this.#canvas.getBoundingClientRect();
    this.#stroke = { color: this.erasing ? PAPER : this.color, points: [this.#point(event, rect)] };
    this.#paint(this.#stroke, 0);
  }

  #move(event) {
    if (event.pointerId !== this.#pointer) return;
    const rect = this.#canvas.getBoundingClientRect();
    const from = this.#stroke.points.length;
    // Pens and fast mice deliver several positions per frame (synthetic events none).
    const events = event.getCoalescedEvents?.();
    for (const each of events?.length ? events : [event]) this.#stroke.points.push(this.#point(each, rect));
    this.#paint(this.#stroke, from);
  }

  #up(event) {
    if (event.pointerId !== this.#pointer) return;
    this.#pointer = null;
    this.#actions.push(this.#stroke);
    this.#stroke = null;
    this.version++;
    this.#onChange();
  }
}
