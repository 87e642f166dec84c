/** A case material file as the case view lists it. */
export interface CaseFileView {
  id: string;
  code: string;
  name: string;
  mediaType: string;
  size: number;
  sha256: string;
  /** The province the file came from (this gateway's own code for an upload here). */
  receivedFrom: string;
  receivedAt: string;
}

/**
 * Port through which the case view lists a case's material files; implemented by
 * @tongban/materials (which depends on this lib, not the other way round).
 */
export abstract class CaseFiles {
  /** Files of the case with local id `caseId`, oldest first. */
  abstract list(caseId: string): Promise<CaseFileView[]>;
}
