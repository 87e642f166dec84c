/**
 * A catalogue or calendar document that cannot be used. `path` names the offending field the way an
 * administrator reads it (`items[HUKOU_SPOUSE].steps[1].inputs[0]`), so the store can turn it into a
 * ValidationException without re-deriving where the problem was.
 */
export class CatalogueError extends Error {
  constructor(
    readonly path: string,
    readonly detail: string,
  ) {
    super(`${path}: ${detail}`);
    this.name = 'CatalogueError';
  }
}
