/**
 * The vault's HTTP API as the console uses it, with the signed-in user's bearer token. Every
 * route is the API's own (DESIGN.md "HTTP API"); nothing here holds a URL beyond the page's origin.
 */

/** One recording as `GET /recordings` lists it. `channels`, `source`, `conferenceSid` only where the API gives them. */
export interface ListedRecording {
  readonly recordingSid: string;
  readonly callId: string | null;
  readonly callSid: string | null;
  readonly conferenceSid?: string | null;
  readonly status: string;
  readonly startedAt: string;
  readonly durationSeconds: number | null;
  readonly channels?: number | null;
  readonly source?: string | null;
  readonly sizeBytes: number | null;
  readonly sha256: string | null;
  readonly contentType: string | null;
  readonly storedAt: string | null;
  readonly erasedAt: string | null;
  /** The legal hold on it, null when none; absent where the API has no holds. */
  readonly hold?: LegalHold | null;
}

/** Who put a recording on hold, when and why. */
export interface LegalHold {
  readonly by: string;
  readonly at: string;
  readonly reason: string;
}

export interface RecordingsPage {
  readonly recordings: ListedRecording[];
  readonly nextCursor: string | null;
}

export interface Playback {
  readonly recordingSid: string;
  readonly url: string;
  readonly expiresAt: string;
  readonly contentType?: string;
}

export interface AuditEntry {
  readonly at: string;
  readonly actor: string;
  readonly action: string;
  readonly sourceIp?: string;
  readonly userAgent?: string;
}

/** An answer other than 2xx: its status and the API's `error` message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export class VaultApi {
  constructor(private readonly token: () => string | undefined) {}

  private async request(method: string, path: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json' };
    const token = this.token();
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(path, {
        method,
        headers,
        cache: 'no-store',
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch {
      throw new ApiError(0, 'The API could not be reached');
    }
    if (!response.ok) {
      const text = await response.text().catch(() => '');
      let message = `HTTP ${response.status}`;
      try {
        const parsed = JSON.parse(text) as { error?: string; message?: string };
        message = parsed.error ?? parsed.message ?? message;
      } catch {
        // not JSON: keep the status
      }
      throw new ApiError(response.status, message);
    }
    return response;
  }

  private async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    return (await (await this.request(method, path, body)).json()) as T;
  }

  /**
   * `GET /recordings`: recordings that started in [from, to), a page at a time; with `held`, only
   * those on legal hold (`hold=true`), and then `range` may be left out: every recording on hold now.
   */
  listRecordings(
    range: { readonly from: string; readonly to: string } | undefined,
    limit: number,
    cursor?: string,
    held = false,
  ): Promise<RecordingsPage> {
    const query = new URLSearchParams({ ...range, limit: String(limit) });
    if (held) query.set('hold', 'true');
    if (cursor) query.set('cursor', cursor);
    return this.json('GET', `/recordings?${query}`);
  }

  /**
   * A presigned playback URL for one recording (`GET /recordings/{recordingSid}`): a real access,
   * entered in the audit trail as `playback.url`. Call it only to play or download, never to read
   * a recording's facts (the listing has them, its hold included). One recording's URL only: the
   * per-call route would issue, and enter, a URL for each recording of the call.
   */
  playback(recording: Pick<ListedRecording, 'recordingSid'>): Promise<Playback> {
    return this.json('GET', `/recordings/${encodeURIComponent(recording.recordingSid)}`);
  }

  /**
   * The status a route answers, without acting: used with a request its handler refuses (400)
   * before it reads or writes anything. 400: the route is there and the caller may use it; 403:
   * the sign-in lacks its scope (the gateway refuses before the handler); 404/405: no such route.
   */
  async routeStatus(method: 'GET' | 'DELETE', path: string): Promise<number> {
    try {
      await this.request(method, path);
      return 200;
    } catch (error) {
      return error instanceof ApiError ? error.status : 0;
    }
  }

  /**
   * `DELETE /recordings/{recordingSid}`: 204 once erased (again 204 if it already was). By SID, so
   * that a conference recording without a call is erased too; the ledger names its call, if any.
   */
  async erase(recording: Pick<ListedRecording, 'recordingSid'>): Promise<void> {
    await this.request('DELETE', `/recordings/${encodeURIComponent(recording.recordingSid)}`);
  }

  /* ---- Routes a stage may not offer this sign-in (scopes), or may not have. ------------------- */

  /** `GET /recordings/{sid}/audit` (a read the trail does not enter); ApiError 404/405 where the API has no such route. */
  audit(recordingSid: string): Promise<{ entries: AuditEntry[]; nextCursor: string | null }> {
    return this.json('GET', `/recordings/${encodeURIComponent(recordingSid)}/audit`);
  }

  /** `PUT /recordings/{sid}/hold` with a reason. */
  async hold(recordingSid: string, reason: string): Promise<void> {
    await this.request('PUT', `/recordings/${encodeURIComponent(recordingSid)}/hold`, { reason });
  }

  /** `DELETE /recordings/{sid}/hold`. */
  async release(recordingSid: string): Promise<void> {
    await this.request('DELETE', `/recordings/${encodeURIComponent(recordingSid)}/hold`);
  }
}
