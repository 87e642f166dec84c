/** The parts of a catalogue item a case needs, frozen into the case when it opens. */
export interface CaseItem {
  code: string;
  name: string;
  version: string;
  modes: string[];
  roles: string[];
  acceptingRole: string;
  steps: {
    role: string;
    action: string;
    name: string;
    timeLimitWorkingDays: number;
    inputs: string[];
    outputs: { name: string; kind: 'DOCUMENT_NUMBER' | 'FILE_HASH' | 'TEXT' | 'DATE'; required: boolean }[];
    mayRefuse: boolean;
    needsApplicantId: boolean;
    needsMaterials: boolean;
  }[];
  materials: { code: string; name: string; required: boolean }[];
}
