/** Injection token for this gateway's own participant code (e.g. '110000'). */
export const SELF_CODE = Symbol('SELF_CODE');
