import { z } from 'zod';
import { QueryParam, querySchema } from '@tongban/common';

/** `GET /v1/cases`: filters and paging. */
export const caseListQuery = querySchema({
  state: QueryParam.oneOf(['OPEN', 'COMPLETED', 'REFUSED', 'CANCELLED']).optional(),
  overdue: QueryParam.bool().optional(),
  itemCode: QueryParam.text(/^[A-Z0-9_-]{2,40}$/, 'a catalogue item code (^[A-Z0-9_-]{2,40}$)').optional(),
  limit: QueryParam.int(1, 1000).optional(),
  offset: QueryParam.int(0, 1_000_000).optional(),
});
export type CaseListQuery = z.infer<typeof caseListQuery>;

/** `GET /v1/tasks`: step statuses (repeated or comma-separated) and a limit. */
export const taskListQuery = querySchema({
  status: QueryParam.list(QueryParam.oneOf(['ASSIGNED', 'ACCEPTED', 'MATERIALS_REQUESTED', 'COMPLETED', 'REFUSED', 'CANCELLED', 'WAITING']), 7).optional(),
  limit: QueryParam.int(1, 1000).optional(),
});
export type TaskListQuery = z.infer<typeof taskListQuery>;
