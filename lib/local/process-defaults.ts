/**
 * Defaults of a local command's process, set before any handler module loads (import this
 * first: imports run before the importing module's own statements). Threads inherit them.
 * EMF metrics mean something only in CloudWatch; the SDK's Node 22 notice is said once by the
 * command; logs are one readable line each (JSON stays on AWS); what the stack writes
 * (recordings, tables, the queue journal, the API token) is the owner's alone.
 */
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
process.env.LOG_FORMAT ??= 'pretty';
process.umask(0o077);
