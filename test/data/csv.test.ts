import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readCsv, type ReadCsvOptions, type RowProblem } from '../../src/data/csv.js';

async function read(text: string, options?: ReadCsvOptions) {
  const rows: { line: number; id: string }[] = [];
  const problems: RowProblem[] = [];
  for await (const { line, values } of readCsv(Readable.from([text]), 'f.csv', ['id', 'x'], (p) => problems.push(p), options)) rows.push({ line, id: values.id! });
  return { rows, problems };
}

describe('readCsv', () => {
  const whole = { requireFinalLineBreak: true };

  it('reads a last row without a line break when the input may end so (request bodies), reporting a short one as before', async () => {
    expect(await read('id,x\na,1\nb,2')).toEqual({ rows: [{ line: 2, id: 'a' }, { line: 3, id: 'b' }], problems: [] });
    expect(await read('id,x\na,1\nb')).toEqual({ rows: [{ line: 2, id: 'a' }], problems: [{ file: 'f.csv', line: 3, field: 'row', message: 'has 1 fields, the header has 2' }] });
  });

  it('refuses a header naming a column twice, rather than keeping one of the two values unseen', async () => {
    await expect(read('id,x,id\na,1,b\n')).rejects.toThrow('f.csv:1: the header names column(s) id more than once; keep one of each');
    // Blank header cells (a spreadsheet's trailing empty columns) name no column.
    expect((await read('id,x,,\na,1,,\n')).rows).toEqual([{ line: 2, id: 'a' }]);
  });

  it('refuses bytes that are not UTF-8, naming the line, rather than reading a replacement character', async () => {
    const bytes = Buffer.concat([Buffer.from('id,x\na,1\nb'), Buffer.from([0xe9]), Buffer.from(',2\n')]);
    const rows: string[] = [];
    const reading = (async () => {
      for await (const { values } of readCsv(Readable.from([bytes]), 'f.csv', ['id', 'x'], () => {})) rows.push(values.id!);
    })();
    await expect(reading).rejects.toThrow('f.csv:3: byte 10 is not UTF-8: send UTF-8 text (a file saved as Latin-1 or Windows-1252 must be converted first)');
  });

  it('with requireFinalLineBreak, takes a last row without one for a cut-off file', async () => {
    await expect(read('id,x\na,1\nb,2', whole)).rejects.toThrow('f.csv:3: the file ends without a line break after this row, so it may be cut off inside its last field');
    await expect(read('id,x\na,1\nb', whole)).rejects.toThrow('f.csv:3: the file ends inside this row (1 of 2 fields, no line break after it): it looks cut off');
  });

  it('with requireFinalLineBreak, accepts CRLF, trailing empty lines, a quoted line break, and a short row that is not last', async () => {
    expect((await read('id,x\r\na,1\r\nb,2\r\n', whole)).rows).toEqual([{ line: 2, id: 'a' }, { line: 3, id: 'b' }]);
    expect((await read('id,x\na,1\n\n\n', whole)).rows).toEqual([{ line: 2, id: 'a' }]);
    expect((await read('id,x\na,"1\n2"\n', whole)).rows).toEqual([{ line: 3, id: 'a' }]);
    const { rows, problems } = await read('id,x\na\nb,2\nc\n', whole);
    expect(rows).toEqual([{ line: 3, id: 'b' }]);
    expect(problems.map((p) => p.line)).toEqual([2, 4]);
  });

  it('names the line an unclosed quote opens on, not the end of the file', async () => {
    await expect(read('id,x\na,1\n\nb,"2\nc,3\nd,4\n')).rejects.toThrow(/^f\.csv:3: cannot read the CSV: a quoted field .* never closed; the file ends inside it at line 6$/);
  });
});
