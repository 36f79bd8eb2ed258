const decimalUsd = /^(0|[1-9][0-9]*)(?:\.([0-9]*[1-9]))?$/;

/** True for a plain non-negative decimal string without redundant zeros ("0.075", "15"). */
export function isDecimalUsd(text: string): boolean {
  return decimalUsd.test(text);
}

/**
 * Converts an exact decimal dollar amount to whole cents, rounding half up
 * ("0.075" -> 8, "0.0375" -> 4, "3" -> 300). Works on the digits, so no
 * binary floating-point error can creep in.
 */
export function usdToCents(text: string): number {
  const match = decimalUsd.exec(text);
  if (!match) throw new Error(`not a decimal dollar amount: "${text}"`);
  const whole = match[1]!;
  const fraction = (match[2] ?? "").padEnd(3, "0");
  const cents = Number(whole) * 100 + Number(fraction.slice(0, 2));
  return fraction[2]! >= "5" ? cents + 1 : cents;
}

/**
 * The exact decimal text of a finite non-negative float as JavaScript's
 * shortest round-trip form writes it, without exponent notation
 * (5e-7 -> "0.0000005", 1.25 -> "1.25").
 */
export function decimalOfFloat(n: number): string {
  if (!Number.isFinite(n) || n < 0) throw new Error(`not a finite non-negative number: ${n}`);
  const [digits, exponentText] = String(n).split("e");
  if (exponentText === undefined) return digits!;
  const exponent = Number(exponentText);
  const [whole, fraction = ""] = digits!.split(".");
  const all = whole! + fraction;
  const point = whole!.length + exponent;
  const text = point <= 0 ? `0.${"0".repeat(-point)}${all}` : point >= all.length ? all + "0".repeat(point - all.length) : `${all.slice(0, point)}.${all.slice(point)}`;
  return text.includes(".") ? text.replace(/0+$/, "").replace(/\.$/, "") : text;
}
