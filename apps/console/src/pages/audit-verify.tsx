import { api } from '../api';
import { num, time } from '../format';
import { useAction, useLoad } from '../hooks';
import { t } from '../i18n';
import { Badge, Card, ErrorBox, Table } from '../ui';
import { useState } from 'preact/hooks';

interface Report {
  ok: boolean;
  verdict: string;
  checked: number;
  firstBadSeq?: number;
  problem?: string;
  notProven: string[];
  checkpoints: { checked: number; bad: number; skipped: number; lastGoodSeq?: number; exported: number };
  signaturesChecked: boolean;
  keysFrom?: string;
  ranAt?: string;
}
interface Checkpoint {
  seq: number;
  at: string;
  kid: string;
  hash: string;
}

/** Runs the audit chain verification on the gateway and shows the checkpoint trail. */
export function AuditVerification() {
  const [report, setReport] = useState<Report>();
  const act = useAction();
  const cps = useLoad((s) => api.get<{ checkpoints: Checkpoint[] }>('/admin/console/audit/checkpoints?limit=20', s), []);
  const run = () =>
    act.run(async () => {
      setReport(await api.get<Report>('/admin/console/audit/verification'));
      cps.reload();
    });
  return (
    <Card title={t('audit.chain')}>
      <p class="muted">{t('audit.chain.hint')}</p>
      <button type="button" class="primary" onClick={() => void run()} disabled={act.busy} data-testid="verify-chain">
        {act.busy ? t('audit.verifying') : t('audit.verify')}
      </button>
      <ErrorBox error={act.error} />
      {report && (
        <div class="report" role="status" data-testid="verdict">
          <p>
            <Badge value={report.verdict} /> {t('audit.checked', { n: num(report.checked) })} ·{' '}
            {t('audit.checkpointsChecked', { n: num(report.checkpoints.checked), bad: num(report.checkpoints.bad) })}
            {report.checkpoints.lastGoodSeq != null && ` · ${t('audit.lastGood', { seq: report.checkpoints.lastGoodSeq })}`}
          </p>
          {report.problem && (
            <p class="error">
              #{report.firstBadSeq}: {report.problem}
            </p>
          )}
          {report.notProven.length > 0 && (
            <ul class="plain">
              {report.notProven.map((n) => (
                <li key={n}>⚠ {n}</li>
              ))}
            </ul>
          )}
          {report.keysFrom && <p class="muted">{report.keysFrom}</p>}
        </div>
      )}
      <h3>{t('audit.trail')}</h3>
      <ErrorBox error={cps.error} />
      <Table
        caption={t('audit.trail')}
        rows={cps.data?.checkpoints}
        rowKey={(c) => String(c.seq)}
        columns={[
          { key: 'seq', label: t('audit.upToSeq'), render: (c) => c.seq, class: 'num' },
          { key: 'at', label: t('time'), render: (c) => time(c.at) },
          { key: 'kid', label: 'kid', render: (c) => <code class="kid">{c.kid}</code> },
          { key: 'hash', label: 'hash', render: (c) => <code class="kid">{c.hash.slice(0, 16)}…</code> },
        ]}
      />
    </Card>
  );
}
