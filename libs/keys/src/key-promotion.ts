import { SigningKeyStatus } from './signing-key.entity';

/** What promotion needs to know of one own key. */
export interface PromotableKey {
  kid: string;
  status: SigningKeyStatus;
  createdAt: Date;
  /** For NEXT keys: when it is to start signing. */
  activatedAt: Date | null;
}

/** The outcome of a promotion: the one key that signs from now on, and the keys it retires. */
export interface PromotionPlan {
  activate: string;
  retire: string[];
}

/**
 * Which key signs once NEXT keys fall due (null: none is due). Exactly one key is ACTIVE
 * afterwards: the most recently created due NEXT key. Every other ACTIVE key, every other due
 * NEXT key and every NEXT key created before the winner (a rotation superseded by a later one,
 * which would otherwise take over from the newer key when its own time came) is retired.
 */
export function promotionPlan(keys: PromotableKey[], now: Date): PromotionPlan | null {
  const due = keys.filter((k) => k.status === 'NEXT' && k.activatedAt && k.activatedAt.getTime() <= now.getTime());
  if (!due.length) return null;
  const winner = due.reduce((a, b) => (b.createdAt.getTime() > a.createdAt.getTime() || (b.createdAt.getTime() === a.createdAt.getTime() && b.kid > a.kid) ? b : a));
  const retire = keys.filter((k) => k.kid !== winner.kid && (k.status === 'ACTIVE' || (k.status === 'NEXT' && k.createdAt.getTime() <= winner.createdAt.getTime()))).map((k) => k.kid);
  return { activate: winner.kid, retire };
}
