import type { APIGatewayProxyEventV2 } from 'aws-lambda';

/**
 * Who sent an API request, as API Gateway's authorizer vouches for it (payload 2.0): the IAM
 * principal ARN, or the JWT's `sub` and client id; locally, the principal the local stack names
 * (`local`, behind its bearer token). Erasure, hold and release record it; the audit trail too.
 * Only the authorizer's context is trusted: never a header the caller could set.
 */
export interface Caller {
  /**
   * One line naming the caller, recorded in the ledger (`erasedBy`, `hold.by`) and events: the
   * IAM principal ARN, the JWT `sub`, or the local principal.
   */
  readonly actor: string;
  readonly kind: 'iam' | 'jwt' | 'local';
  /** IAM: the principal's ARN (`requestContext.authorizer.iam.userArn`). */
  readonly principalArn?: string;
  /** JWT: the token's subject. */
  readonly sub?: string;
  /** JWT: the OAuth client the token was issued to (`client_id`, `azp` or `cid`, as the issuer names it). */
  readonly clientId?: string;
  /** As API Gateway saw the connection (`requestContext.http.sourceIp`). */
  readonly sourceIp?: string;
  readonly userAgent?: string;
}

/** What API Gateway's IAM or JWT authorizer says of the caller (payload 2.0). */
interface AuthorizerContext {
  readonly iam?: { readonly userArn?: unknown };
  readonly jwt?: { readonly claims?: Readonly<Record<string, unknown>> };
}

const nonEmpty = (value: unknown): string | undefined =>
  typeof value === 'string' && value.trim() !== '' ? value.slice(0, 512) : undefined;

/**
 * The request's caller, or undefined when the authorizer named none and no `defaultPrincipal`
 * was given. Only the local stack passes `defaultPrincipal`: on AWS every route that acts on a
 * recording has an IAM or JWT authorizer.
 */
export function callerOf(event: APIGatewayProxyEventV2, defaultPrincipal?: string): Caller | undefined {
  const context = event.requestContext as
    | (APIGatewayProxyEventV2['requestContext'] & { authorizer?: AuthorizerContext })
    | undefined;
  const http = context?.http;
  const connection = {
    ...(nonEmpty(http?.sourceIp) ? { sourceIp: nonEmpty(http?.sourceIp) as string } : {}),
    ...(nonEmpty(http?.userAgent) ? { userAgent: nonEmpty(http?.userAgent) as string } : {}),
  };
  const authorizer = context?.authorizer;
  const arn = nonEmpty(authorizer?.iam?.userArn);
  if (arn) return { actor: arn, kind: 'iam', principalArn: arn, ...connection };
  const claims = authorizer?.jwt?.claims;
  const sub = nonEmpty(claims?.sub);
  if (sub) {
    const clientId = nonEmpty(claims?.client_id) ?? nonEmpty(claims?.azp) ?? nonEmpty(claims?.cid);
    return { actor: sub, kind: 'jwt', sub, ...(clientId ? { clientId } : {}), ...connection };
  }
  const local = nonEmpty(defaultPrincipal);
  if (local) return { actor: local, kind: 'local', ...connection };
  return undefined;
}
