/**
 * Prints every configuration key as a Markdown table (key, env, default, doc), for
 * docs/config.md:  npx tsx scripts/config-table.ts
 */
import { describeSchema } from '../src/config/load.js';

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
console.log('| key | environment | default | meaning |');
console.log('| --- | --- | --- | --- |');
for (const k of describeSchema()) {
  console.log(
    `| \`${k.key}\` | \`${k.env ?? ''}\` | \`${cell(JSON.stringify(k.default))}\` | ${cell(k.doc)} |`,
  );
}
