// Chinese by default, English on request: one dictionary, the language kept in localStorage.
import { en } from './i18n-en';
import { zh } from './i18n-zh';

export type Lang = 'zh' | 'en';
const KEY = 'tongban.console.lang';

let current: Lang = (() => {
  try {
    return localStorage.getItem(KEY) === 'en' ? 'en' : 'zh';
  } catch {
    return 'zh';
  }
})();

export const lang = (): Lang => current;

export function setLang(l: Lang): void {
  current = l;
  document.documentElement.lang = l === 'zh' ? 'zh-CN' : 'en';
  try {
    localStorage.setItem(KEY, l);
  } catch {
    /* private mode: the choice lasts for this page */
  }
}

/** The text for `key` in the current language, `{name}` placeholders filled from `vars`. */
export function t(key: string, vars: Record<string, string | number> = {}): string {
  const text = (current === 'en' ? en : zh)[key] ?? zh[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, k: string) => String(vars[k] ?? `{${k}}`));
}
