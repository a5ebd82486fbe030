import { describe, expect, it } from 'vitest';
import { DataError, loadOlist } from '../../src/data/olist.js';
import { dealsCsv, generateLeads, mqlCsv, writeOlistFolder } from '../fixtures/olist.js';

const HEADER = 'mql_id,first_contact_date,landing_page_id,origin';
const DEALS_HEADER = 'mql_id,seller_id,sdr_id,sr_id,won_date';

describe('loadOlist', () => {
  it('joins the label: converted exactly when the mql_id has a closed deal', async () => {
    const leads = generateLeads(200);
    const data = await loadOlist(writeOlistFolder({ mql: mqlCsv(leads), deals: dealsCsv(leads) }));
    expect(data.problems).toEqual([]);
    expect(data.leads).toHaveLength(200);
    expect(data.leads.map((l) => l.converted)).toEqual(leads.map((l) => l.converted));
    expect(data.leads.find((l) => l.converted)?.won_date).toMatch(/^\d{4}-\d{2}-\d{2} 12:00:00$/);
    expect(data.files.map((f) => [f.file, f.rows, f.sha256.length])).toEqual([
      ['olist_marketing_qualified_leads_dataset.csv', 200, 64],
      ['olist_closed_deals_dataset.csv', leads.filter((l) => l.converted).length, 64],
    ]);
  });

  it('reports each bad row with file, line and field, and keeps the good ones', async () => {
    const mql = [
      HEADER,
      'a1,2018-01-02,p1,social', // line 2: fine
      'a2,2018-02-30,p1,social', // line 3: impossible date
      ',2018-01-03,p2,', // line 4: empty id
      'a1,2018-01-04,p1,email', // line 5: duplicate id
      'a5,2018-01-05,p1', // line 6: a field short
      'a6,2018-01-06,p3,', // line 7: fine, missing origin
    ].join('\n');
    const deals = [DEALS_HEADER, 'a1,s,d,r,2018-03-01 10:00:00', 'zz,s,d,r,2018-03-01 10:00:00', 'a6,s,d,r,not a date'].join('\n');
    const data = await loadOlist(writeOlistFolder({ mql, deals }));
    expect(data.leads.map((l) => [l.mql_id, l.converted])).toEqual([['a1', true], ['a6', false]]);
    expect(data.problems).toEqual([
      { file: 'olist_closed_deals_dataset.csv', line: 4, field: 'won_date', message: 'must be a date-time, YYYY-MM-DD HH:MM:SS' },
      { file: 'olist_marketing_qualified_leads_dataset.csv', line: 3, field: 'first_contact_date', message: expect.stringMatching(/real calendar date/) },
      { file: 'olist_marketing_qualified_leads_dataset.csv', line: 4, field: 'mql_id', message: 'must not be empty' },
      { file: 'olist_marketing_qualified_leads_dataset.csv', line: 5, field: 'mql_id', message: 'repeats the lead on line 2' },
      { file: 'olist_marketing_qualified_leads_dataset.csv', line: 6, field: 'row', message: 'has 3 fields, the header has 4' },
      { file: 'olist_closed_deals_dataset.csv', line: 3, field: 'mql_id', message: 'matches no lead in olist_marketing_qualified_leads_dataset.csv' },
    ]);
  });

  it('stops at the first bad row in strict mode', async () => {
    const dir = writeOlistFolder({ mql: `${HEADER}\na1,2018-01-02,p1,social\na2,2018-02-30,p1,social\n`, deals: `${DEALS_HEADER}\n` });
    await expect(loadOlist(dir, { strict: true })).rejects.toThrow('olist_marketing_qualified_leads_dataset.csv:3: first_contact_date must be a real calendar date');
  });

  it('names a missing column, a broken quote and a missing folder', async () => {
    await expect(loadOlist(writeOlistFolder({ mql: 'mql_id,landing_page_id\n', deals: `${DEALS_HEADER}\n` }))).rejects.toThrow(
      /olist_marketing_qualified_leads_dataset.csv:1: the header lacks column\(s\) first_contact_date, origin/,
    );
    await expect(loadOlist(writeOlistFolder({ mql: `${HEADER}\n"a1,2018-01-02,p1,social\n`, deals: `${DEALS_HEADER}\n` }))).rejects.toThrow(
      /olist_marketing_qualified_leads_dataset.csv:\d+: cannot read the CSV/,
    );
    await expect(loadOlist('/nonexistent/olist')).rejects.toThrow(DataError);
    await expect(loadOlist('/nonexistent/olist')).rejects.toThrow(/kaggle.com/);
  });
});
