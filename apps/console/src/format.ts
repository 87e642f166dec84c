// Numbers with their units and times in the browser's local time zone with the zone shown.
import { lang, t } from './i18n';

const locale = () => (lang() === 'zh' ? 'zh-CN' : 'en-GB');

/** The browser's time zone name, e.g. Asia/Shanghai. */
export const zoneName = (): string => Intl.DateTimeFormat().resolvedOptions().timeZone;

/** `2026-12-03 16:55:14 GMT+8`; '—' for none. */
export function time(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = new Intl.DateTimeFormat('en-CA', {
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hour12: false,
    timeZoneName: 'shortOffset',
  }).formatToParts(d);
  const g = (k: string) => p.find((x) => x.type === k)?.value ?? '';
  return `${g('year')}-${g('month')}-${g('day')} ${g('hour') === '24' ? '00' : g('hour')}:${g('minute')}:${g('second')} ${g('timeZoneName')}`;
}

/** Hours and minutes only, for chart axes. */
export function clock(ms: number): string {
  return new Intl.DateTimeFormat(locale(), { hour: '2-digit', minute: '2-digit', hour12: false }).format(new Date(ms));
}

export const num = (n: number | null | undefined, digits = 0): string =>
  n === null || n === undefined || Number.isNaN(n) ? '—' : new Intl.NumberFormat(locale(), { maximumFractionDigits: digits }).format(n);

/** A count with its unit: `3 条`, `3 messages`. */
export const count = (n: number | null | undefined, unit: string): string => `${num(n)} ${t(unit)}`;

/** A duration in seconds, in the largest sensible unit: `42 秒`, `5.5 分钟`, `3.2 小时`, `12 天`. */
export function duration(s: number | null | undefined): string {
  if (s === null || s === undefined) return '—';
  if (s < 60) return `${num(s)} ${t('unit.s')}`;
  if (s < 3600) return `${num(s / 60, 1)} ${t('unit.min')}`;
  if (s < 86400 * 2) return `${num(s / 3600, 1)} ${t('unit.h')}`;
  return `${num(s / 86400, 1)} ${t('unit.d')}`;
}

export const ms = (n: number | null | undefined) => (n === null || n === undefined ? '—' : `${num(n, 1)} ms`);
export const perS = (n: number | null | undefined) => (n === null || n === undefined ? '—' : `${num(n, 2)} ${t('unit.perS')}`);
