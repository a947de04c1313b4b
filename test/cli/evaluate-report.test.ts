import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EVALUATION_SETS, replaceTable } from '../../src/cli/evaluate-report.js';

const ROOT = path.resolve(__dirname, '../..');
const START = '<!-- evaluation-table:start (written by npm run evaluate:report) -->';
const END = '<!-- evaluation-table:end -->';

describe('npm run evaluate:report', () => {
  it('replaces only the text between the table markers', () => {
    const doc = `# title\n\nintro\n\n${START}\n\nold table\n\n${END}\n\nafter\n`;
    const out = replaceTable(doc, '| new |\n');
    expect(out).toBe(`# title\n\nintro\n\n${START}\n\n| new |\n\n${END}\n\nafter\n`);
    expect(replaceTable(out, '| newer |\n')).toContain('| newer |');
    expect(replaceTable(out, '| newer |\n')).not.toContain('| new |');
  });

  it('refuses a document without the markers', () => {
    expect(() => replaceTable('# no markers\n', 'x')).toThrow(/markers/);
  });

  it('covers the four sets of the README table; the committed ones exist, held-out people only', () => {
    expect(EVALUATION_SETS.map((s) => s.key)).toEqual(['realfaces-dev', 'tvfaces', 'olivetti', 'orl']);
    for (const set of EVALUATION_SETS.filter((s) => !s.shared)) {
      expect(existsSync(path.join(ROOT, set.folder))).toBe(true);
      expect(set.people).toEqual(['s36', 's37', 's38', 's39', 's40']);
    }
    // Evaluation-only data is read from the shared folder, never from the repository.
    for (const set of EVALUATION_SETS.filter((s) => s.key === 'realfaces-dev' || s.key === 'tvfaces'))
      expect(set.shared).toBe(true);
    expect(existsSync(path.join(ROOT, 'data', 'realfaces-dev'))).toBe(false);
  });
});
