// Every workflow the act worker runs; the worker bundles this file.
export { remediate } from './remediate.js';
export { actionBudget, entityGuard } from './guards.js';
