/** Time source, injected so tests can move time without sleeping. */
export abstract class Clock {
  abstract now(): Date;
  /** Whole seconds since the epoch, as used in JWT claims. */
  epochSeconds(): number {
    return Math.floor(this.now().getTime() / 1000);
  }
}

/** The real wall clock. */
export class SystemClock extends Clock {
  now(): Date {
    return new Date();
  }
}
