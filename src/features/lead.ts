// The lead record as clients and the Olist file describe it: one schema for the API, the CSV rows and training.
import { z } from 'zod';

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
// ISO-8601 date-time as CRMs send it: seconds, fractions and an offset are optional.
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2}):?(\d{2}))?$/;

export interface CalendarDate {
  year: number;
  month: number; // 1-12
  day: number;
}

/** Parses `YYYY-MM-DD` or an ISO date-time; null unless it names a real calendar date and time of day. */
export function parseLeadDate(text: string): CalendarDate | null {
  if (text.length === 10) return parsePlainDate(text);
  const match = DATE_ONLY.exec(text) ?? DATE_TIME.exec(text);
  if (!match) return null;
  const year = Number(match[1]);
  const month = Number(match[2]);
  const day = Number(match[3]);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  if (match[4] !== undefined && (Number(match[4]) > 23 || Number(match[5]) > 59 || Number(match[6] ?? 0) > 59)) return null;
  // An offset is hours 00–23 and minutes 00–59 (RFC 3339), not +99:99.
  if (match[7] !== undefined && (Number(match[7]) > 23 || Number(match[8]) > 59)) return null;
  return { year, month, day };
}

/** The earliest and latest instants a filter (or a cursor) may name: years 0001–9999, which both stores can hold. */
const FIRST_INSTANT_MS = new Date('0001-01-01T00:00:00Z').getTime();
export const LAST_INSTANT_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/**
 * `YYYY-MM-DD` (midnight UTC) or an ISO-8601 date-time naming a real calendar date and time (UTC
 * when it has no offset, whatever the server's time zone), as a Date; null for anything else,
 * including a date JavaScript would roll over (2026-02-30 is not 2026-03-02) and an instant
 * outside years 0001–9999 (PostgreSQL refused those with a 500).
 */
export function parseInstant(text: string): Date | null {
  if (parseLeadDate(text) === null) return null;
  let iso = text.length === 10 ? `${text}T00:00:00Z` : text.replace(' ', 'T');
  if (!/(?:Z|[+-]\d{2}:?\d{2})$/.test(iso)) iso += 'Z';
  const ms = Date.parse(iso);
  return ms >= FIRST_INSTANT_MS && ms <= LAST_INSTANT_MS ? new Date(ms) : null;
}

const digit = (text: string, at: number) => {
  const code = text.charCodeAt(at) - 48;
  return code >= 0 && code <= 9 ? code : Number.NaN;
};

/** `YYYY-MM-DD`, read digit by digit: the common case, on every lead of every request, without a regex or allocation. */
function parsePlainDate(text: string): CalendarDate | null {
  if (text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45) return null; // '-'
  const year = digit(text, 0) * 1000 + digit(text, 1) * 100 + digit(text, 2) * 10 + digit(text, 3);
  const month = digit(text, 5) * 10 + digit(text, 6);
  const day = digit(text, 8) * 10 + digit(text, 9);
  // NaN fails every comparison, so a non-digit anywhere is refused here
  if (!(year >= 0 && month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month))) return null;
  return { year, month, day };
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

// Arithmetic rather than a Date object: this runs for every lead of every request.
function daysInMonth(year: number, month: number): number {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!;
}

/** Day of the week of a calendar date, 0 = Monday … 6 = Sunday. */
export function weekdayOf(date: CalendarDate): number {
  return (new Date(Date.UTC(date.year, date.month - 1, date.day)).getUTCDay() + 6) % 7;
}

/** The date part, `YYYY-MM-DD`, of a valid lead date; ordering these strings orders the dates. */
export function isoDay(text: string): string {
  return text.slice(0, 10);
}

/**
 * Whether a client's text can be stored and found again exactly as it was sent: PostgreSQL
 * refuses a NUL character (the request failed with a 500), and an unpaired UTF-16 surrogate
 * (JSON's "\ud800") has no UTF-8 form, so both stores kept a replacement character instead and two
 * different ids became one lead.
 */
export function isStorableText(value: string): boolean {
  return value.isWellFormed() && !value.includes('\0');
}

export const STORABLE_TEXT = 'must not contain a NUL character or an unpaired UTF-16 surrogate';

/** "is required" for an absent field, "must be a string" for any other type; text that can be stored as it is. */
const text = () => z.string({ error: (issue) => (issue.input === undefined ? 'is required' : 'must be a string') }).refine(isStorableText, STORABLE_TEXT);

export const LeadSchema = z
  .object({
    mql_id: text().min(1, 'must not be empty').max(128, 'must be at most 128 characters'),
    first_contact_date: text()
      .refine((value) => parseLeadDate(value) !== null, 'must be a real calendar date, YYYY-MM-DD or an ISO-8601 date-time')
      .describe('YYYY-MM-DD or an ISO-8601 date-time, naming a real calendar date'),
    landing_page_id: text().min(1, 'must not be empty').max(128, 'must be at most 128 characters'),
    origin: z
      .string({ error: 'must be a string or null' })
      .max(128, 'must be at most 128 characters')
      .refine(isStorableText, STORABLE_TEXT)
      .nullable()
      .optional()
      .describe('Marketing channel, e.g. organic_search or paid_search; null, empty or absent means missing'),
  })
  .meta({
    id: 'Lead',
    description: 'A marketing-qualified lead. Fields other than these four are ignored; origin null, empty or absent means "missing".',
    example: {
      mql_id: 'dac32acd4db4c29c230538b72f8dd87d',
      first_contact_date: '2018-02-01',
      landing_page_id: '88740e65d5d6b056e0cda098e1ea6313',
      origin: 'social',
    },
  });

export type Lead = z.infer<typeof LeadSchema>;

/** A lead from the training data with its outcome. */
export interface LabelledLead extends Lead {
  converted: boolean;
  /** `YYYY-MM-DD HH:MM:SS` of the closed deal, when it converted. */
  won_date?: string;
}

/** The lead columns of the Olist MQL file, which CSV inputs and outputs follow. */
export const LEAD_COLUMNS = ['mql_id', 'first_contact_date', 'landing_page_id', 'origin'] as const;
