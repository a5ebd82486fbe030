import { describe, expect, it } from 'vitest';
import { LeadSchema, parseLeadDate, weekdayOf } from '../../src/features/lead.js';

describe('parseLeadDate', () => {
  it('reads dates and ISO date-times', () => {
    expect(parseLeadDate('2018-02-01')).toEqual({ year: 2018, month: 2, day: 1 });
    expect(parseLeadDate('2018-02-01T13:45:00Z')).toEqual({ year: 2018, month: 2, day: 1 });
    expect(parseLeadDate('2018-02-01T13:45:00.123+02:00')).toEqual({ year: 2018, month: 2, day: 1 });
    expect(parseLeadDate('2018-05-08 20:17:59')).toEqual({ year: 2018, month: 5, day: 8 });
  });

  it('rejects impossible calendar dates and times', () => {
    expect(parseLeadDate('2018-02-30')).toBeNull();
    expect(parseLeadDate('2017-02-29')).toBeNull();
    expect(parseLeadDate('2018-13-01')).toBeNull();
    expect(parseLeadDate('2018-04-31')).toBeNull();
    expect(parseLeadDate('2018-02-01T24:00:00Z')).toBeNull();
    expect(parseLeadDate('2018-02-01T10:00:00+99:99')).toBeNull(); // an offset is 00–23 hours, 00–59 minutes
    expect(parseLeadDate('2018-02-01T10:00:00+05:60')).toBeNull();
    expect(parseLeadDate('2018-02-01T10:00:00-1400')).toEqual({ year: 2018, month: 2, day: 1 });
    expect(parseLeadDate('01/02/2018')).toBeNull();
    expect(parseLeadDate('')).toBeNull();
  });

  it('refuses anything but digits in the positions of a plain date', () => {
    for (const text of ['2018-0a-01', '+018-01-01', '2018/01/01', '2018-01-0 ', ' 018-01-01', '2018-1-011', '0000-00-00', '2018-00-10']) expect(parseLeadDate(text)).toBeNull();
    expect(parseLeadDate('0001-01-01')).toEqual({ year: 1, month: 1, day: 1 });
    expect(parseLeadDate('2000-02-29')).toEqual({ year: 2000, month: 2, day: 29 }); // divisible by 400
    expect(parseLeadDate('1900-02-29')).toBeNull(); // divisible by 100 only
  });

  it('accepts leap days in leap years', () => {
    expect(parseLeadDate('2016-02-29')).toEqual({ year: 2016, month: 2, day: 29 });
  });

  it('numbers weekdays from Monday', () => {
    expect(weekdayOf({ year: 2018, month: 2, day: 5 })).toBe(0); // 2018-02-05 was a Monday
    expect(weekdayOf({ year: 2018, month: 2, day: 4 })).toBe(6);
  });
});

describe('LeadSchema', () => {
  const lead = { mql_id: 'a', first_contact_date: '2018-02-01', landing_page_id: 'p' };

  it('treats origin as optional and nullable and drops unknown fields', () => {
    expect(LeadSchema.parse({ ...lead, origin: null, crm_owner: 'x' })).toEqual({ ...lead, origin: null });
    expect(LeadSchema.parse(lead)).toEqual(lead);
  });

  it('names every offending field', () => {
    const result = LeadSchema.safeParse({ mql_id: '', first_contact_date: '2018-02-30', landing_page_id: 5 });
    expect(result.success).toBe(false);
    expect(result.error!.issues.map((issue) => issue.path.join('.')).sort()).toEqual(['first_contact_date', 'landing_page_id', 'mql_id']);
  });
});
