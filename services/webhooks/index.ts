export { WebhookDispatcher } from './WebhookDispatcher.ts';
export { signWebhook, verifyWebhook, WEBHOOK_ID_HEADER, WEBHOOK_SIGNATURE_HEADER, WEBHOOK_TIMESTAMP_HEADER } from './signature.ts';
export { followForWebhooks } from './follow.ts';
export * from './WebhookTypes.ts';
