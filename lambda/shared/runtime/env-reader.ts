/**
 * Each function's environment is a typed contract, read once at start-up.
 * A missing or malformed variable fails the container with one message that names
 * every problem, instead of a confusing error on the first request.
 */

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

export type Env = Readonly<Record<string, string | undefined>>;

/** Collects problems so that one start-up failure reports all of them (the local stack reads its environment with it too). */
export class EnvReader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  required(name: string): string {
    const value = this.env[name]?.trim();
    if (!value) {
      this.problems.push(`${name} is required`);
      return '';
    }
    return value;
  }

  optional(name: string): string | undefined {
    const value = this.env[name]?.trim();
    return value ? value : undefined;
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const raw = this.optional(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value < min || value > max) {
      this.problems.push(`${name} must be a whole number from ${min} to ${max} (got "${raw}")`);
      return fallback;
    }
    return value;
  }

  bool(name: string, fallback: boolean): boolean {
    const raw = this.optional(name);
    if (raw === undefined) return fallback;
    if (raw === 'true') return true;
    if (raw === 'false') return false;
    this.problems.push(`${name} must be "true" or "false" (got "${raw}")`);
    return fallback;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const raw = this.optional(name);
    if (raw === undefined) return fallback;
    if ((allowed as readonly string[]).includes(raw)) return raw as T;
    this.problems.push(`${name} must be one of ${allowed.join(', ')} (got "${raw}")`);
    return fallback;
  }

  url(name: string, fallback?: string): string | undefined {
    const raw = this.optional(name) ?? fallback;
    if (raw === undefined) return undefined;
    try {
      const parsed = new URL(raw);
      if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new Error('scheme');
      return raw.replace(/\/+$/, '');
    } catch {
      this.problems.push(`${name} must be an http(s) URL (got "${raw}")`);
      return raw;
    }
  }

  matching(name: string, pattern: RegExp, what: string): string {
    const value = this.required(name);
    if (value && !pattern.test(value)) {
      this.problems.push(`${name} must look like ${what}`);
    }
    return value;
  }

  /** An optional calendar day (`YYYY-MM-DD`, UTC) that exists: not 2026-13-45, not 2025-02-29. */
  day(name: string): string | undefined {
    const raw = this.optional(name);
    if (raw === undefined) return undefined;
    const time = /^\d{4}-\d{2}-\d{2}$/.test(raw) ? Date.parse(`${raw}T00:00:00.000Z`) : Number.NaN;
    if (Number.isNaN(time) || new Date(time).toISOString().slice(0, 10) !== raw) {
      this.problems.push(`${name} must be a day of the calendar, YYYY-MM-DD (got "${raw}")`);
      return undefined;
    }
    return raw;
  }

  done<T>(config: T): T {
    if (this.problems.length > 0) throw new ConfigError(this.problems);
    return Object.freeze(config);
  }
}
