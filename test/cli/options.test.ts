import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { int, list } from '../../src/cli/options.js';

describe('CLI option parsers', () => {
  it('int accepts integers from min up and names the option when it refuses', () => {
    const epochs = int('--epochs', 1);
    expect(epochs('1')).toBe(1);
    expect(epochs('40')).toBe(40);
    for (const bad of ['0', '-3', '2.5', 'ten', ''])
      expect(() => epochs(bad)).toThrow(new InvalidArgumentError('--epochs must be an integer >= 1'));
  });

  it('list splits on commas and drops blanks', () => {
    expect(list(' s01, s02,,s03 ,')).toEqual(['s01', 's02', 's03']);
    expect(list('')).toEqual([]);
  });
});
