/**
 * Quiet, offline defaults for every test process. Import it first in a test file, or register it
 * in jest.config.js `setupFiles: ['<rootDir>/test/helpers/setup-env.ts']`.
 *
 * - Powertools logs and EMF metrics are silenced (tests spy on the logger where a log line matters).
 * - A region is set so that SDK clients never look for one in ~/.aws.
 * - Nothing here points an SDK client anywhere: tests build their clients explicitly.
 */
process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';
process.env.AWS_REGION = process.env.AWS_REGION ?? 'us-east-1';
// The SDK's Node 20 support notice is noise in test output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

export {};
