export * from './delivery.options';
export * from './outbox-message.entity';
export * from './inbox-message.entity';
export * from './outbox.service';
export * from './dispatcher.service';
export * from './inbox.service';
export * from './outbox-admin.service';
export * from './delivery-failure';
