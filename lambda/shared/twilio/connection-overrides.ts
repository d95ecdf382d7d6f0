/**
 * Twilio's webhook connection overrides: a URL fragment (`#rc=3&rp=all`, …) that tells Twilio
 * how to connect to a callback URL and whether to retry it. Without one Twilio retries a
 * recording callback only when the TCP connect fails. The fragment never reaches the server,
 * and Twilio does not say whether the URL it signs includes it, so the webhook accepts a
 * signature over the URL with and without the one fragment the stage names, and nothing else.
 */

/** What each override takes (Twilio's documented ranges). */
const OVERRIDES: Record<string, (value: string) => boolean> = {
  ct: (v) => wholeIn(v, 100, 10_000),
  rt: (v) => wholeIn(v, 100, 15_000),
  tt: (v) => wholeIn(v, 100, 15_000),
  rc: (v) => wholeIn(v, 0, 5),
  rp: (v) => v.split(',').every((p) => ['4xx', '5xx', 'ct', 'rt', 'all'].includes(p)),
  e: (v) => /^[a-z][a-z-]{1,31}$/.test(v),
  sni: (v) => v === 'y' || v === 'n',
};

function wholeIn(value: string, min: number, max: number): boolean {
  return /^\d{1,6}$/.test(value) && Number(value) >= min && Number(value) <= max;
}

/**
 * The problems with a fragment (without its `#`), each naming the part at fault; empty when it
 * is a valid set of overrides, each named once.
 */
export function connectionOverridesProblems(fragment: string): string[] {
  if (fragment === '') return ['must not be empty'];
  if (fragment.startsWith('#')) return ['must be given without its leading "#" (e.g. rc=3&rp=all)'];
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const part of fragment.split('&')) {
    const [name = '', value, ...rest] = part.split('=');
    const check = Object.hasOwn(OVERRIDES, name) ? OVERRIDES[name] : undefined;
    if (!check) {
      problems.push(`has an unknown override "${part.slice(0, 32)}" (known: ${Object.keys(OVERRIDES).join(', ')})`);
    } else if (value === undefined || rest.length > 0 || !check(value)) {
      problems.push(`has a bad value for ${name} ("${part.slice(0, 32)}")`);
    } else if (seen.has(name)) {
      problems.push(`names ${name} twice`);
    }
    seen.add(name);
  }
  return problems;
}

/** The URL Twilio is given: `url` with the fragment, when one is in use. */
export function withConnectionOverrides(url: string, fragment: string | undefined): string {
  return fragment ? `${url.replace(/#.*$/, '')}#${fragment}` : url;
}

/** The URLs a signature may cover: each candidate as received, and with the stage's fragment. */
export function signedUrlCandidates(urls: readonly string[], fragment: string | undefined): string[] {
  return fragment ? urls.flatMap((url) => [url, withConnectionOverrides(url, fragment)]) : [...urls];
}
