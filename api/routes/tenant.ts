/** Until API keys exist (the API/tenancy issue), every request acts for this tenant. */
export const DEFAULT_TENANT = 'default';
