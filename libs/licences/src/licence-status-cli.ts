// `tongban licences suspend|reinstate|revoke ID --reason` (apps/cli wires them). A status change must
// reach the gateway's listeners (status lists, change notices to subscribers), so the CLI asks the
// running gateway's admin API rather than writing to the database behind its back.
import { AdminTarget, CommandResult, postToGateway } from '@tongban/common';
import { LicenceStatusAction, LicenceStatusView } from './licence-status-admin';

const isView = (p: unknown): p is LicenceStatusView => typeof (p as { status?: unknown } | undefined)?.status === 'string';

/** Runs one status action through the admin API and prints the outcome. */
export async function licenceStatusCommand(target: AdminTarget, action: LicenceStatusAction, licenceId: string, o: { reason: string }): Promise<CommandResult> {
  const r = await postToGateway(target, `/admin/licences/${encodeURIComponent(licenceId)}/${action}`, { reason: o.reason }, isView);
  if (!r.ok) return r.out;
  const v = r.body;
  const stdout = v.changed
    ? `${v.licenceId}: ${v.status} (was ${v.previous}), version ${v.version}, at ${v.changedAt}\n`
    : `${v.licenceId}: already ${v.status} (version ${v.version}); nothing changed\n`;
  return { stdout, stderr: '', exitCode: 0 };
}
