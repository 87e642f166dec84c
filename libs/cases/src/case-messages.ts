/** Payload types of case messages (bodies of tongban.federation.v1.DeliveryPayload). */
export const CaseMessage = {
  Opened: 'tongban.cases.v1.CaseOpened',
  StepAssigned: 'tongban.cases.v1.StepAssigned',
  StepOutcome: 'tongban.cases.v1.StepOutcome',
  StepStatusChanged: 'tongban.cases.v1.StepStatusChanged',
  Closed: 'tongban.cases.v1.CaseClosed',
  Note: 'tongban.cases.v1.CaseEventNote',
} as const;
