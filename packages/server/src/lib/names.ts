/** The longest display name Latchkey keeps. */
export const NAME_MAX = 100;

/** Names are one line of visible text. */
export function cleanName(name: string): string {
  return name.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ').trim();
}
