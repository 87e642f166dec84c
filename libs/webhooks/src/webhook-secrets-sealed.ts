import { SealedColumn, SecretSealer } from '@tongban/keys';
import { WebhookEntity } from './webhook.entity';

/**
 * Webhook HMAC secrets in `webhooks.secret_sealed` (purpose `webhook`), for re-sealing when the
 * seal algorithm changes. One sealed under an earlier key-encryption secret no longer opens and is
 * kept as it is: its deliveries already fail to sign, and the webhook must be registered again.
 */
export const WEBHOOK_SECRETS_SEALED: SealedColumn = {
  name: 'webhook secret',
  entity: WebhookEntity,
  idProperty: 'id',
  sealedProperty: 'secretSealed',
  kekProperty: 'kekId',
  binding: (id) => SecretSealer.binding('webhook', id),
  unopenable: 'keep',
};
