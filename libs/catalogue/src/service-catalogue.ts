import { readFileSync } from 'node:fs';
import { CatalogueDocument, OUTPUT_KINDS, SERVICE_MODES, parseCatalogue } from './catalogue.schema';
import { CatalogueError } from './catalogue-error';

/** 全程网办 (ONLINE), 异地代收代办 (PROXY), 多地联办 (JOINT). */
export type ServiceMode = (typeof SERVICE_MODES)[number];
/** What a step output holds. */
export type OutputKind = (typeof OUTPUT_KINDS)[number];

/** A value a step produces, which later steps name in their `inputs`. */
export interface CatalogueOutput {
  readonly name: string;
  readonly kind: OutputKind;
  readonly required: boolean;
}

/** One step of an item's workflow, performed by the province that holds `role` in a case. */
export interface CatalogueStep {
  readonly role: string;
  readonly action: string;
  readonly name: string;
  readonly timeLimitWorkingDays: number;
  readonly inputs: readonly string[];
  readonly outputs: readonly CatalogueOutput[];
  readonly mayRefuse: boolean;
  readonly needsApplicantId: boolean;
  readonly needsMaterials: boolean;
}

/** A material the applicant hands in. */
export interface CatalogueMaterial {
  readonly code: string;
  readonly name: string;
  readonly required: boolean;
}

/** A service item (事项) and its cross-province workflow. */
export interface CatalogueItem {
  readonly code: string;
  readonly name: string;
  readonly department: string;
  readonly modes: readonly ServiceMode[];
  readonly roles: readonly string[];
  readonly acceptingRole: string;
  readonly steps: readonly CatalogueStep[];
  readonly materials: readonly CatalogueMaterial[];
  readonly confirmed?: boolean;
  readonly notes?: string;
}

/**
 * One validated, immutable version of the service catalogue. Items are data an administrator loads,
 * not code, so the only way in is through validation (`loadCatalogue` / `fromFile`).
 */
export class ServiceCatalogue {
  readonly version: string;
  readonly about?: string;
  private readonly byCode: ReadonlyMap<string, CatalogueItem>;

  private constructor(private readonly doc: CatalogueDocument) {
    deepFreeze(doc);
    this.version = doc.version;
    this.about = doc.about;
    this.byCode = new Map(doc.items.map((i) => [i.code, i]));
  }

  /** Validates a parsed JSON document; throws CatalogueError naming the item and field. */
  static fromJson(json: unknown): ServiceCatalogue {
    return new ServiceCatalogue(parseCatalogue(json));
  }

  /** Reads and validates a catalogue file; errors name the file as well as the field. */
  static fromFile(path: string): ServiceCatalogue {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(path, 'utf8'));
    } catch (e) {
      throw new CatalogueError(path, `cannot be read as JSON: ${(e as Error).message}`);
    }
    try {
      return ServiceCatalogue.fromJson(json);
    } catch (e) {
      if (e instanceof CatalogueError) throw new CatalogueError(e.path, `${e.detail} (in ${path})`);
      throw e;
    }
  }

  /** The item with this code, if this version has it. */
  item(code: string): CatalogueItem | undefined {
    return this.byCode.get(code);
  }

  /** Every item, in file order. */
  items(): CatalogueItem[] {
    return [...this.byCode.values()];
  }

  /** The validated document, e.g. to store or to serve to an admin. */
  toJSON(): CatalogueDocument {
    return this.doc;
  }
}

/** Validates a catalogue document (parsed JSON); throws CatalogueError with a message naming item and field. */
export function loadCatalogue(json: unknown): ServiceCatalogue {
  return ServiceCatalogue.fromJson(json);
}

// Versions are shared by every request of a gateway; freezing stops one caller editing another's view.
function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
