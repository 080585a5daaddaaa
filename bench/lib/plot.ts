// plot.ts - plots for the report, drawn by gnuplot (Debian's gnuplot-nox) as SVG: the data
// and the script are written beside the plot, so a plot can be redrawn or restyled by hand.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { RESULTS } from './results.js';

export interface Series {
  title: string;
  /** [x, y] points, or [x, y, ylow, yhigh] with the spread of y (drawn as error bars). */
  points: number[][];
}

export interface Plot {
  /** File name without extension, under bench/results/ */
  file: string;
  title: string;
  xlabel: string;
  ylabel: string;
  series: Series[];
  /** lines (x numeric, e.g. frame size), or histogram (x the index of a category in xticks) */
  style: 'lines' | 'histogram';
  xticks?: string[];
  logy?: boolean;
  /** lines: x on a log2 scale (frame sizes) */
  logx?: boolean;
}

const quote = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/** Draws p into bench/results/<file>.svg; returns its path. */
export function plot(p: Plot): string {
  fs.mkdirSync(RESULTS, { recursive: true });
  const data = path.join(RESULTS, `${p.file}.dat`);
  const svg = path.join(RESULTS, `${p.file}.svg`);
  // One gnuplot data block per series, separated by two blank lines (index N).
  fs.writeFileSync(data, p.series.map((s) => `# ${s.title}\n${s.points.map((pt) => pt.join(' ')).join('\n')}`).join('\n\n\n') + '\n');
  const bars = p.series.some((s) => s.points.some((pt) => pt.length >= 4));
  const lines = [
    'set terminal svg size 900,500 dynamic enhanced font "sans,12" background "white"',
    `set output ${quote(svg)}`,
    `set title ${quote(p.title)} noenhanced`,
    `set xlabel ${quote(p.xlabel)} noenhanced`,
    `set ylabel ${quote(p.ylabel)} noenhanced`,
    'set key outside right top noenhanced',
    'set grid ytics',
    p.logy ? 'set logscale y' : 'set yrange [0:*]',
  ];
  let plots: string[];
  if (p.style === 'lines') {
    if (p.logx) lines.push('set logscale x 2');
    lines.push(`set xtics (${[...new Set(p.series.flatMap((s) => s.points.map((pt) => pt[0])))].sort((a, b) => a - b).join(', ')})`);
    plots = p.series.map((s, i) =>
      `${quote(data)} index ${i} using 1:2${bars ? ':3:4 with yerrorlines' : ' with linespoints'} lw 2 title ${quote(s.title)}`);
  } else {
    const n = p.series.length, width = 0.8 / n;
    lines.push('set style fill solid 0.8 border -1', 'set boxwidth ' + width.toFixed(3),
      `set xtics (${(p.xticks ?? []).map((t, i) => `${quote(t)} ${i}`).join(', ')}) rotate by -30 noenhanced`, 'set xrange [-0.6:*]');
    plots = p.series.map((s, i) => {
      const dx = (i - (n - 1) / 2) * width;
      return `${quote(data)} index ${i} using ($1+${dx.toFixed(3)}):2 with boxes title ${quote(s.title)}` +
        (bars ? `, ${quote(data)} index ${i} using ($1+${dx.toFixed(3)}):2:3:4 with yerrorbars lc black pt 0 notitle` : '');
    });
  }
  lines.push(`plot ${plots.join(', \\\n  ')}`);
  const script = path.join(RESULTS, `${p.file}.gp`);
  fs.writeFileSync(script, `${lines.join('\n')}\n`);
  execFileSync('gnuplot', [script], { stdio: ['ignore', 'ignore', 'pipe'] });
  return svg;
}
