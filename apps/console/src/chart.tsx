// A line chart drawn as SVG (no chart library): one or more series over the same minutes.
import { clock, num } from './format';

export interface Series {
  name: string;
  values: (number | null)[];
  tone: number;
}

const W = 560;
const H = 160;
const PAD = { l: 48, r: 8, t: 10, b: 22 };

/** `times` are epoch ms of each point; `unit` labels the y axis. */
export function LineChart(props: { title: string; unit: string; times: number[]; series: Series[] }) {
  const all = props.series.flatMap((s) => s.values.filter((v): v is number => v !== null));
  const max = Math.max(1e-9, ...all);
  const top = niceCeil(max);
  const n = props.times.length;
  const x = (i: number) => PAD.l + (n <= 1 ? 0 : (i / (n - 1)) * (W - PAD.l - PAD.r));
  const y = (v: number) => PAD.t + (1 - v / top) * (H - PAD.t - PAD.b);
  const ticks = [0, top / 2, top];
  const labelAt = n > 0 ? [0, Math.floor((n - 1) / 2), n - 1] : [];
  const last = (s: Series) => [...s.values].reverse().find((v) => v !== null) ?? null;
  const desc = props.series.map((s) => `${s.name}: ${num(last(s), 2)} ${props.unit}`).join('; ');
  return (
    <figure class="chart">
      <figcaption>
        {props.title} <span class="muted">({props.unit})</span>
      </figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`${props.title}: ${desc}`}>
        {ticks.map((v) => (
          <g key={v}>
            <line class="grid" x1={PAD.l} x2={W - PAD.r} y1={y(v)} y2={y(v)} />
            <text class="axis" x={PAD.l - 4} y={y(v) + 4} text-anchor="end">
              {num(v, 2)}
            </text>
          </g>
        ))}
        {labelAt.map((i) => (
          <text key={i} class="axis" x={x(i)} y={H - 6} text-anchor={i === 0 ? 'start' : i === n - 1 ? 'end' : 'middle'}>
            {clock(props.times[i])}
          </text>
        ))}
        {props.series.map((s) => (
          <path key={s.name} class={`line tone-${s.tone % 6}`} d={path(s.values, x, y)} />
        ))}
      </svg>
      <ul class="legend">
        {props.series.map((s) => (
          <li key={s.name}>
            <span class={`swatch tone-${s.tone % 6}`} aria-hidden="true" />
            {s.name}: {num(last(s), 2)} {props.unit}
          </li>
        ))}
      </ul>
    </figure>
  );
}

function path(values: (number | null)[], x: (i: number) => number, y: (v: number) => number): string {
  let d = '';
  let pen = false;
  values.forEach((v, i) => {
    if (v === null) {
      pen = false;
      return;
    }
    d += `${pen ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
    pen = true;
  });
  return d;
}

function niceCeil(v: number): number {
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}
