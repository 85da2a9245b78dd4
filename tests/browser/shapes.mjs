// The sketch model's 20 shapes as a person draws them with a mouse: strokes
// of points in a box from -1 to 1 (y down), drawn one after the other.

const TAU = 2 * Math.PI;

/** Points around an ellipse from angle `from` to `to`. */
function arc([cx, cy], [rx, ry], from, to, steps = Math.max(6, Math.ceil((Math.abs(to - from) / TAU) * 40))) {
  return Array.from({ length: steps + 1 }, (_, i) => {
    const a = from + ((to - from) * i) / steps;
    return [cx + rx * Math.cos(a), cy + ry * Math.sin(a)];
  });
}
const circle = (centre, r) => arc(centre, [r, r], 0, TAU);
const closed = (points) => [...points, points[0]];
const dot = ([x, y], r) => circle([x, y], r);

export const SHAPES = {
  "a circle": [circle([0, 0], 1)],
  "a square": [closed([[-0.9, -0.9], [0.9, -0.9], [0.9, 0.9], [-0.9, 0.9]])],
  "a triangle": [closed([[0, -1], [1, 0.8], [-1, 0.8]])],
  "a star": [Array.from({ length: 11 }, (_, i) => {
    const a = -Math.PI / 2 + (i * TAU) / 10;
    const r = i % 2 ? 0.4 : 1;
    return [r * Math.cos(a), r * Math.sin(a)];
  })],
  "a heart": [Array.from({ length: 41 }, (_, i) => {
    const t = (TAU * i) / 40;
    const y = 13 * Math.cos(t) - 5 * Math.cos(2 * t) - 2 * Math.cos(3 * t) - Math.cos(4 * t);
    return [Math.sin(t) ** 3, -y / 16];
  })],
  "a house": [
    closed([[-0.8, -0.1], [0.8, -0.1], [0.8, 1], [-0.8, 1]]),
    [[-0.95, -0.05], [0, -1], [0.95, -0.05]],
    [[-0.2, 1], [-0.2, 0.45], [0.2, 0.45], [0.2, 1]],
  ],
  "a sun": [
    circle([0, 0], 0.45),
    ...Array.from({ length: 8 }, (_, i) => {
      const a = (TAU * i) / 8;
      return [[0.62 * Math.cos(a), 0.62 * Math.sin(a)], [Math.cos(a), Math.sin(a)]];
    }),
  ],
  "a moon": [[...arc([0, 0], [1, 1], Math.PI / 2 - 0.1, (3 * Math.PI) / 2 + 0.1), ...arc([0.35, 0], [0.8, 0.95], (3 * Math.PI) / 2 - 0.15, Math.PI / 2 + 0.15)]],
  "a tree": [
    arc([0, -0.35], [0.65, 0.65], Math.PI / 2 + 0.25, Math.PI / 2 - 0.25 + TAU),
    [[-0.16, 0.28], [-0.16, 1], [0.16, 1], [0.16, 0.28]],
  ],
  "a flower": [
    circle([0, -0.4], 0.16),
    ...Array.from({ length: 6 }, (_, i) => circle([0.36 * Math.cos((TAU * i) / 6), -0.4 + 0.36 * Math.sin((TAU * i) / 6)], 0.2)),
    [[0, 0], [0, 1]],
  ],
  "a fish": [arc([-0.15, 0], [0.75, 0.45], 0, TAU), closed([[0.55, 0], [1, -0.4], [1, 0.4]]), dot([-0.5, -0.1], 0.05)],
  "a cat": [
    arc([0, 0.15], [0.85, 0.75], -Math.PI / 2 + 0.55, (3 * Math.PI) / 2 - 0.55),
    [[-0.62, -0.38], [-0.7, -1], [-0.2, -0.58]],
    [[0.62, -0.38], [0.7, -1], [0.2, -0.58]],
    dot([-0.32, 0], 0.07),
    dot([0.32, 0], 0.07),
    [[-0.2, 0.35], [-1, 0.25]],
    [[0.2, 0.35], [1, 0.25]],
  ],
  "a car": [
    [[-1, 0.5], [-1, 0.05], [-0.55, 0], [-0.35, -0.45], [0.35, -0.45], [0.55, 0], [1, 0.08], [1, 0.5], [0.75, 0.5]],
    [[0.25, 0.5], [-0.25, 0.5]],
    circle([-0.5, 0.5], 0.25),
    circle([0.5, 0.5], 0.25),
  ],
  "a boat": [
    closed([[-1, 0.35], [1, 0.35], [0.65, 0.85], [-0.65, 0.85]]),
    [[0, 0.35], [0, -1]],
    closed([[0, -0.95], [0.7, 0.2], [0, 0.2]]),
  ],
  "a cloud": [[
    [-0.9, 0.4],
    ...arc([-0.6, 0.1], [0.35, 0.35], Math.PI * 0.8, Math.PI * 1.6),
    ...arc([-0.05, -0.2], [0.45, 0.45], Math.PI * 1.1, Math.PI * 1.9),
    ...arc([0.55, 0.05], [0.4, 0.4], Math.PI * 1.3, Math.PI * 2.3),
    [-0.9, 0.4],
  ]],
  "an umbrella": [
    [...arc([0, 0], [1, 0.9], Math.PI, TAU), [-1, 0]],
    [[0, -0.9], [0, 0.8], ...arc([-0.15, 0.8], [0.15, 0.15], 0, Math.PI)],
  ],
  "a smiley face": [circle([0, 0], 1), dot([-0.35, -0.3], 0.08), dot([0.35, -0.3], 0.08), arc([0, 0.05], [0.55, 0.5], 0.35, Math.PI - 0.35)],
  "an arrow": [[[-1, 0], [1, 0]], [[0.55, -0.4], [1, 0], [0.55, 0.4]]],
  "a spiral": [Array.from({ length: 121 }, (_, i) => {
    const t = i / 40;
    return [(t / 3) * Math.cos(t * TAU), (t / 3) * Math.sin(t * TAU)];
  })],
  "a lightning bolt": [closed([[0.15, -1], [-0.55, 0.1], [-0.05, 0.1], [-0.3, 1], [0.6, -0.25], [0.1, -0.25], [0.4, -1]])],
};

/** `shape`'s strokes in canvas pixels: centred at `centre`, `radius` from the middle to the edge of its box. */
export function placed(shape, [cx, cy], radius) {
  return SHAPES[shape].map((points) => points.map(([x, y]) => [cx + x * radius, cy + y * radius]));
}
