export { createOpenApiDocument, toOpenApiPath, type RequestSchemas } from './document.ts';
export { apiOperations, type ApiOperation } from './operations.ts';
