import { findUp } from '@tongban/common';

/** Injection token for the CatalogueStore's default files (a `CatalogueOptions`). */
export const CATALOGUE_OPTIONS = Symbol('CATALOGUE_OPTIONS');

/** The files used until an administrator loads a version into the database. */
export interface CatalogueOptions {
  catalogueFile: string;
  calendarFile: string;
}

/** The shipped `data/catalogue.json` and `data/calendar.json`, found from this module upwards. */
export function shippedCatalogueOptions(from: string = __dirname): CatalogueOptions {
  return { catalogueFile: findUp('data/catalogue.json', from), calendarFile: findUp('data/calendar.json', from) };
}
