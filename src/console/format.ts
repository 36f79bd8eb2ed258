/** How the console writes prices, token counts and dates. */

/**
 * Dollars per million tokens from the exact decimal string the service keeps
 * ("0.075" → "$0.075", "3" → "$3.00"), falling back to the rounded cents.
 */
export function dollars(usd: string | undefined, cents: bigint | undefined): string {
  if (usd !== undefined && usd !== "") {
    const [whole, fraction = ""] = usd.split(".");
    return `$${whole}.${fraction.padEnd(2, "0")}`;
  }
  if (cents !== undefined) return `$${(Number(cents) / 100).toFixed(2)}`;
  return "—";
}

/** The price as a number for the chart; undefined when unknown. */
export function dollarValue(usd: string | undefined, cents: bigint | undefined): number | undefined {
  if (usd !== undefined && usd !== "") return Number(usd);
  return cents === undefined ? undefined : Number(cents) / 100;
}

export function tokenCount(n: number | undefined): string {
  return n === undefined ? "—" : n.toLocaleString("en-US");
}

export function dateTime(date: Date | undefined): string {
  return date === undefined ? "" : date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}
