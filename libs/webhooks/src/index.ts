export * from './webhooks.options';
export * from './webhook.entity';
export * from './webhook-delivery.entity';
export * from './webhook-signature';
export * from './webhook-requests.schema';
export * from './webhook.service';
export * from './webhook-dispatcher.service';
export * from './webhook-recorder.service';
