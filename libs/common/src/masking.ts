/** Masks a personal identifier for logs: keeps 3 leading and 1 trailing character. */
export function maskIdentifier(value: string | undefined | null): string {
  if (!value) return '';
  if (value.length <= 4) return '*'.repeat(value.length);
  return value.slice(0, 3) + '*'.repeat(value.length - 4) + value.slice(-1);
}

/** Masks a person's name for logs: keeps the first character only. */
export function maskName(value: string | undefined | null): string {
  if (!value) return '';
  const chars = Array.from(value);
  return chars[0] + '*'.repeat(Math.max(chars.length - 1, 1));
}
