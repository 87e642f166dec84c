import { api } from '../api';
import { num, time } from '../format';
import { useLoad } from '../hooks';
import { t } from '../i18n';
import { onLink } from '../router';
import { Badge, Card, ErrorBox, Loading, Page, Table } from '../ui';

interface OverdueStep {
  caseId: string;
  collaborationId: string;
  itemCode: string;
  itemName: string;
  acceptingProvince: string;
  stepIndex: number;
  stepName: string;
  province: string;
  status: string;
  dueAt: string | null;
  workingDaysLeft: number | null;
}
interface CaseTimeline {
  caseId: string;
  collaborationId: string;
  itemCode: string;
  itemName: string;
  state: string;
  acceptingProvince: string;
  openedAt: string;
  closedAt: string | null;
  steps: {
    index: number;
    name: string;
    province: string;
    role: string;
    status: string;
    assignedAt: string | null;
    dueAt: string | null;
    finishedAt: string | null;
    overdue: boolean;
    actor: string | null;
  }[];
  events: { seq: number; at: string; type: string; province: string | null; actor: string | null; stepIndex: number | null }[];
}

export function CasesPage(props: { id: string }) {
  return props.id ? <CaseDetail id={props.id} /> : <Overdue />;
}

function groupCount<T>(rows: T[], key: (r: T) => string) {
  const m = new Map<string, number>();
  for (const r of rows) m.set(key(r), (m.get(key(r)) ?? 0) + 1);
  return [...m.entries()].sort((a, b) => b[1] - a[1]);
}

function Overdue() {
  const l = useLoad((s) => api.get<{ steps: OverdueStep[] }>('/admin/console/overdue-steps', s), [], 30_000);
  const steps = l.data?.steps ?? [];
  return (
    <Page title={t('nav.cases')}>
      <ErrorBox error={l.error} />
      <Loading loading={l.loading && !l.data} />
      <div class="tiles">
        <Group title={t('cases.byItem')} rows={groupCount(steps, (s) => `${s.itemName} (${s.itemCode})`)} />
        <Group title={t('cases.byProvince')} rows={groupCount(steps, (s) => s.province)} />
      </div>
      <Card title={t('cases.overdue')}>
        <Table<OverdueStep>
          caption={t('cases.overdue')}
          rows={steps}
          rowKey={(s) => `${s.caseId}~${s.stepIndex}`}
          columns={[
            {
              key: 'case',
              label: t('cases.case'),
              render: (s) => (
                <a href={`/console/cases/${s.caseId}`} onClick={(e) => onLink(e, `cases/${s.caseId}`)}>
                  {s.collaborationId}
                </a>
              ),
            },
            { key: 'item', label: t('cases.item'), render: (s) => s.itemName },
            { key: 'step', label: t('cases.step'), render: (s) => `${s.stepIndex}. ${s.stepName}` },
            { key: 'province', label: t('cases.province'), render: (s) => s.province },
            { key: 'due', label: t('cases.due'), render: (s) => time(s.dueAt) },
            { key: 'late', label: t('cases.late'), render: (s) => (s.workingDaysLeft == null ? '—' : `${num(-s.workingDaysLeft)} ${t('unit.workingDays')}`), class: 'num' },
          ]}
        />
      </Card>
    </Page>
  );
}

function Group(props: { title: string; rows: [string, number][] }) {
  return (
    <Card title={props.title} class="group">
      {props.rows.length === 0 ? (
        <p class="muted">{t('cases.none')}</p>
      ) : (
        <ul class="plain">
          {props.rows.map(([k, n]) => (
            <li key={k}>
              {k}: <strong>{num(n)}</strong> {t('unit.steps')}
            </li>
          ))}
        </ul>
      )}
    </Card>
  );
}

function CaseDetail(props: { id: string }) {
  const l = useLoad((s) => api.get<CaseTimeline>(`/admin/console/cases/${encodeURIComponent(props.id)}`, s), [props.id]);
  const c = l.data;
  return (
    <Page
      title={`${t('cases.case')} ${c?.collaborationId ?? props.id}`}
      actions={
        <a href="/console/cases" class="button" onClick={(e) => onLink(e, 'cases')}>
          ← {t('back')}
        </a>
      }
    >
      <ErrorBox error={l.error} />
      <Loading loading={l.loading && !c} />
      {c && (
        <>
          <Card title={c.itemName}>
            <dl class="facts">
              <dt>{t('status')}</dt>
              <dd>
                <Badge value={c.state} />
              </dd>
              <dt>{t('cases.accepting')}</dt>
              <dd>{c.acceptingProvince}</dd>
              <dt>{t('cases.opened')}</dt>
              <dd>{time(c.openedAt)}</dd>
              <dt>{t('cases.closed')}</dt>
              <dd>{time(c.closedAt)}</dd>
            </dl>
          </Card>
          <Card title={t('cases.steps')}>
            <ol class="timeline">
              {c.steps.map((s) => (
                <li key={s.index} class={s.overdue ? 'late' : undefined}>
                  <strong>
                    {s.index}. {s.name}
                  </strong>{' '}
                  <span class="muted">
                    {s.province} · {s.role}
                  </span>{' '}
                  <Badge value={s.status} /> {s.overdue && <Badge value="overdue" />}
                  <div class="muted">
                    {t('cases.assigned')}: {time(s.assignedAt)} · {t('cases.due')}: {time(s.dueAt)} · {t('cases.finished')}: {time(s.finishedAt)}
                  </div>
                </li>
              ))}
            </ol>
          </Card>
          <Card title={t('cases.timeline')}>
            <Table
              caption={t('cases.timeline')}
              rows={c.events}
              rowKey={(e) => String(e.seq)}
              columns={[
                { key: 'at', label: t('time'), render: (e) => time(e.at) },
                { key: 'type', label: t('cases.event'), render: (e) => e.type },
                { key: 'province', label: t('cases.province'), render: (e) => e.province ?? '—' },
                { key: 'step', label: t('cases.step'), render: (e) => e.stepIndex ?? '—' },
                { key: 'actor', label: t('audit.actor'), render: (e) => e.actor ?? '—' },
              ]}
            />
          </Card>
        </>
      )}
    </Page>
  );
}
