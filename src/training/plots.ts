import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { GrayImage } from '../vision/image.js';
import type { RocPoint } from './metrics.js';
import type { EpochStats } from './trainer.js';

/** Renders a vega-lite spec to a PNG file (vega-lite → vega → SVG → sharp; no canvas). */
export async function renderVegaLitePng(spec: vl.TopLevelSpec, file: string): Promise<void> {
  const compiled = vl.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    const svg = await view.toSVG(2);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await sharp(Buffer.from(svg)).flatten({ background: '#ffffff' }).png().toFile(file);
  } finally {
    view.finalize();
  }
}

/** The write-up's training figure: loss and accuracy per epoch, training vs validation. */
export function trainingPlotSpec(history: readonly EpochStats[], title: string): vl.TopLevelSpec {
  const rows = history.flatMap((h) => [
    { epoch: h.epoch, metric: 'loss', split: 'training', value: h.loss },
    { epoch: h.epoch, metric: 'accuracy', split: 'training', value: h.accuracy },
    ...(h.valLoss === null
      ? []
      : [{ epoch: h.epoch, metric: 'loss', split: 'validation', value: h.valLoss }]),
    ...(h.valAccuracy === null
      ? []
      : [{ epoch: h.epoch, metric: 'accuracy', split: 'validation', value: h.valAccuracy }]),
    ...(h.valEer === null || h.valEer === undefined || !Number.isFinite(h.valEer)
      ? []
      : [{ epoch: h.epoch, metric: 'equal error rate', split: 'validation', value: h.valEer }]),
  ]);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    data: { values: rows },
    facet: {
      column: {
        field: 'metric',
        type: 'nominal',
        sort: ['loss', 'accuracy', 'equal error rate'],
        title: null,
      },
    },
    spec: {
      width: 320,
      height: 220,
      mark: { type: 'line', point: history.length <= 30 },
      encoding: {
        x: { field: 'epoch', type: 'quantitative', title: 'epoch' },
        y: { field: 'value', type: 'quantitative', title: null },
        color: { field: 'split', type: 'nominal', title: null },
      },
    },
    resolve: { scale: { y: 'independent' } },
  } as vl.TopLevelSpec;
}

export function rocPlotSpec(points: readonly RocPoint[], title: string): vl.TopLevelSpec {
  const rows = points
    .filter((p) => Number.isFinite(p.threshold) || p.far === 0)
    .map((p) => ({ far: p.far, tar: p.tar }));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: 360,
    height: 320,
    layer: [
      {
        data: { values: rows },
        mark: { type: 'line', interpolate: 'step-after' },
        encoding: {
          x: { field: 'far', type: 'quantitative', title: 'false accept rate', scale: { domain: [0, 1] } },
          y: { field: 'tar', type: 'quantitative', title: 'true accept rate', scale: { domain: [0, 1] } },
        },
      },
      {
        data: {
          values: [
            { far: 0, tar: 0 },
            { far: 1, tar: 1 },
          ],
        },
        mark: { type: 'line', strokeDash: [4, 4], color: 'gray' },
        encoding: { x: { field: 'far', type: 'quantitative' }, y: { field: 'tar', type: 'quantitative' } },
      },
    ],
  } as vl.TopLevelSpec;
}

/** Gray image → PNG bytes. */
export async function grayToPng(image: GrayImage): Promise<Buffer> {
  return sharp(Buffer.from(image.data), { raw: { width: image.width, height: image.height, channels: 1 } })
    .png()
    .toBuffer();
}

export interface GridCell {
  readonly image: GrayImage;
  readonly caption: string;
  /** Drawn with a green frame (e.g. the true match). */
  readonly highlight?: boolean;
}

/**
 * The write-up's demonstration: the probe face, then one face of every person with the
 * similarity under each. An SVG with embedded PNGs, rasterised by sharp.
 */
export async function renderFaceGrid(
  probe: GridCell,
  cells: readonly GridCell[],
  file: string,
  columns = 10,
): Promise<void> {
  const tile = 96;
  const captionH = 18;
  const gap = 8;
  const rows = Math.ceil(cells.length / columns);
  const headerH = tile + captionH + 2 * gap;
  const width = columns * (tile + gap) + gap;
  const height = headerH + rows * (tile + captionH + gap) + gap;
  const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const img = async (c: GridCell, x: number, y: number): Promise<string> => {
    const png = (await grayToPng(c.image)).toString('base64');
    const frame = c.highlight
      ? `<rect x="${x - 3}" y="${y - 3}" width="${tile + 6}" height="${tile + 6}" fill="#2a2"/>`
      : '';
    return (
      `${frame}<image x="${x}" y="${y}" width="${tile}" height="${tile}" href="data:image/png;base64,${png}"/>` +
      `<text x="${x + tile / 2}" y="${y + tile + 14}" font-size="12" font-family="sans-serif" text-anchor="middle">${esc(c.caption)}</text>`
    );
  };
  const parts = [await img(probe, gap, gap)];
  parts.push(
    `<text x="${gap * 2 + tile}" y="${gap + 20}" font-size="14" font-family="sans-serif">probe vs one face of every person (similarity)</text>`,
  );
  for (let i = 0; i < cells.length; i++) {
    const x = gap + (i % columns) * (tile + gap);
    const y = headerH + Math.floor(i / columns) * (tile + captionH + gap);
    parts.push(await img(cells[i], x, y));
  }
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="100%" height="100%" fill="white"/>${parts.join('')}</svg>`;
  await fs.mkdir(path.dirname(file), { recursive: true });
  await sharp(Buffer.from(svg)).png().toFile(file);
}
