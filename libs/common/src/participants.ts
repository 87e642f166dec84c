import { readFileSync } from 'node:fs';
import { z } from 'zod';

/** A provincial-level participant of the federation. */
export interface Participant {
  code: string;
  name: string;
  nameEn: string;
}

const fileSchema = z.object({
  participants: z.array(z.object({ code: z.string().regex(/^\d{2}0000$/), name: z.string().min(1), nameEn: z.string().min(1) })).min(1),
});

/** The list of known participants (data, not code: loaded from a JSON file). */
export class ParticipantDirectory {
  private readonly byCode: Map<string, Participant>;

  constructor(participants: Participant[]) {
    this.byCode = new Map(participants.map((p) => [p.code, p]));
  }

  /** Loads `{participants: [{code, name, nameEn}]}`, failing with a message that names the file. */
  static fromFile(path: string, extra: Participant[] = []): ParticipantDirectory {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(path, 'utf8'));
    } catch (e) {
      throw new Error(`participants file ${path} cannot be read as JSON: ${(e as Error).message}`);
    }
    const parsed = fileSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new Error(`participants file ${path}: ${issue.path.join('.')}: ${issue.message}`);
    }
    return new ParticipantDirectory([...parsed.data.participants, ...extra]);
  }

  get(code: string): Participant | undefined {
    return this.byCode.get(code);
  }

  has(code: string): boolean {
    return this.byCode.has(code);
  }

  all(): Participant[] {
    return [...this.byCode.values()];
  }
}
