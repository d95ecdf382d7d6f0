/**
 * Normalises a phone number to E.164 (`+14155550100`). Ten-digit numbers are taken as NANP
 * (Twilio's home market); anything that cannot be a phone number is returned as undefined.
 */
export function formatPhoneNumber(raw: string | undefined, defaultCountryCode = '1'): string | undefined {
  if (!raw) return undefined;
  const trimmed = raw.trim();
  const digits = trimmed.replace(/\D/g, '');
  if (trimmed.startsWith('+')) return digits.length >= 8 && digits.length <= 15 ? `+${digits}` : undefined;
  if (trimmed.startsWith('00') && digits.length >= 10) return `+${digits.slice(2)}`;
  if (digits.length === 10) return `+${defaultCountryCode}${digits}`;
  if (digits.length === 11 && digits.startsWith(defaultCountryCode)) return `+${digits}`;
  return undefined;
}

/** For logs: keeps the country prefix and the last two digits (`+1*******00`). */
export function maskPhoneNumber(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  const digits = raw.replace(/\D/g, '');
  if (digits.length <= 4) return '*'.repeat(digits.length);
  return `${raw.trim().startsWith('+') ? '+' : ''}${digits.slice(0, 1)}${'*'.repeat(digits.length - 3)}${digits.slice(-2)}`;
}
