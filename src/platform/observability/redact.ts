/**
 * Field names whose values are secrets or cardholder data: they are replaced before a log line leaves
 * the process. PCI DSS forbids logging a full card number (PAN), so card-like fields are covered too.
 */
export const REDACTED_PATHS = [
  "password",
  "token",
  "secret",
  "apiKey",
  "cardNumber",
  "pan",
  "cvv",
  "cvc",
  "*.password",
  "*.token",
  "*.secret",
  "*.apiKey",
  "*.cardNumber",
  "*.pan",
  "*.cvv",
  "*.cvc",
  "*.*.cardNumber",
  "*.*.pan",
  "*.*.cvv",
  "req.headers.authorization",
  'req.headers["x-api-key"]',
  "req.headers.cookie",
  'res.headers["set-cookie"]',
];

const PAN_CANDIDATE = /\b(?:\d[ -]?){12,18}\d\b/g;

/** Masks every 13–19 digit run that passes the Luhn check, keeping the last four digits. */
export function maskCardNumbers(text: string): string {
  if (!/\d{4}/.test(text)) return text;
  return text.replace(PAN_CANDIDATE, (match) => {
    const digits = match.replace(/[ -]/g, "");
    return digits.length >= 13 && digits.length <= 19 && luhnValid(digits)
      ? `****${digits.slice(-4)}`
      : match;
  });
}

export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}
