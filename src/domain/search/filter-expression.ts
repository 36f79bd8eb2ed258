import type { CheckedFilterNode } from "../../storage/model-filter.js";
import { checkFilter } from "./filter-check.js";
import {
  columnOf,
  FilterSyntaxError,
  maxFilterDepth,
  maxFilterLength,
  maxFilterRestrictions,
  quote,
  type Comparator,
  type FilterCompare,
  type FilterLiteral,
  type FilterNode,
} from "./filter-syntax.js";

export type {
  CheckedFilterNode,
  FilterComparator,
  OrderTerm,
  SortField,
  TextMatch,
} from "../../storage/model-filter.js";
export { checkFilter, parseOrderBy, parseRfc3339 } from "./filter-check.js";
export { FilterSyntaxError, maxFilterDepth, maxFilterLength, maxFilterRestrictions, maxOrderByLength } from "./filter-syntax.js";
export type { Comparator, FilterCompare, FilterLiteral, FilterNode } from "./filter-syntax.js";

/**
 * ListModels `filter` (AIP-160 subset) and `orderBy` (AIP-132).
 *
 * Grammar (AIP-160; note that OR binds tighter than AND and juxtaposition):
 *
 *   filter      = [expression]
 *   expression  = sequence {"AND" sequence}
 *   sequence    = factor {factor}                 (juxtaposition: AND)
 *   factor      = term {"OR" term}
 *   term        = ["NOT" | "-"] simple
 *   simple      = restriction | "(" expression ")"
 *   restriction = member comparator value
 *   member      = segment {"." segment}           (segment: word or quoted string)
 *   comparator  = "=" | "!=" | "<" | "<=" | ">" | ">=" | ":"
 *   value       = string | number | true | false | word | "*" (after ":" only)
 *
 * Strings are double- or single-quoted with the escapes \" \' \\ and \* (a
 * literal asterisk); an unescaped `*` in a string is a wildcard (`=`, `!=`,
 * `:`). Keywords AND, OR, NOT are upper case.
 *
 * `parseFilter` checks syntax only; `checkFilter` resolves fields and types
 * and produces the CheckedFilterNode that the storage layer compiles.
 */

// ---------------------------------------------------------------------------
// Parsing

const wordChar = /[A-Za-z0-9_\/@-]/;
const wordStart = /[A-Za-z0-9_]/;
const valueChar = /[A-Za-z0-9_\/@.-]/;
const space = /\s/;
const numberPattern = /^-?\d+(?:\.\d+)?$/;
/** Parses filter text; checks syntax and size only (see checkFilter for fields and types). */
export function parseFilter(text: string): FilterNode | FilterSyntaxError {
  if (text.length > maxFilterLength) {
    return new FilterSyntaxError(maxFilterLength + 1, `filter is longer than ${maxFilterLength} characters`);
  }
  try {
    return new FilterParser(text).parse();
  } catch (e) {
    if (e instanceof FilterSyntaxError) return e;
    throw e;
  }
}

/** parseFilter then checkFilter. */
export function parseCheckedFilter(text: string): CheckedFilterNode | FilterSyntaxError {
  const node = parseFilter(text);
  return node instanceof FilterSyntaxError ? node : checkFilter(node);
}

class FilterParser {
  private pos = 0;
  private depth = 0;
  private restrictions = 0;

  constructor(private readonly text: string) {}

  parse(): FilterNode {
    this.skipSpace();
    if (this.atEnd()) return { kind: "and", children: [] };
    const node = this.expression();
    this.skipSpace();
    // expression() stops only at the end or at a ')' it did not open.
    if (!this.atEnd()) this.fail(this.pos, "unexpected ')'");
    return node;
  }

  private expression(): FilterNode {
    const parts = [this.sequence()];
    for (;;) {
      this.skipSpace();
      if (!this.keywordAt("AND")) break;
      this.pos += 3;
      this.skipSpace();
      if (this.atEnd() || this.peek() === ")") this.fail(this.pos, "expected a restriction after 'AND'");
      parts.push(this.sequence());
    }
    return combine("and", parts);
  }

  private sequence(): FilterNode {
    const parts = [this.factor()];
    for (;;) {
      this.skipSpace();
      if (this.atEnd() || this.peek() === ")" || this.keywordAt("AND")) break;
      parts.push(this.factor());
    }
    return combine("and", parts);
  }

  private factor(): FilterNode {
    const parts = [this.term()];
    for (;;) {
      const save = this.pos;
      this.skipSpace();
      if (!this.keywordAt("OR")) {
        this.pos = save;
        break;
      }
      this.pos += 2;
      this.skipSpace();
      if (this.atEnd() || this.peek() === ")") this.fail(this.pos, "expected a restriction after 'OR'");
      parts.push(this.term());
    }
    return combine("or", parts);
  }

  private term(): FilterNode {
    const start = this.pos;
    for (const keyword of ["AND", "OR"]) {
      if (this.keywordAt(keyword)) this.fail(start, `expected a restriction before '${keyword}'`);
    }
    let negated = false;
    if (this.keywordAt("NOT")) {
      this.pos += 3;
      this.skipSpace();
      if (this.atEnd() || this.peek() === ")") this.fail(this.pos, "expected a restriction after 'NOT'");
      negated = true;
    } else if (this.peek() === "-") {
      this.pos += 1;
      if (this.atEnd() || space.test(this.peek())) this.fail(this.pos, "expected a restriction after '-'");
      negated = true;
    }
    if (!negated) return this.simple();
    this.enter(start);
    const child = this.simple();
    this.depth--;
    return { kind: "not", child, column: this.column(start) };
  }

  private simple(): FilterNode {
    if (this.peek() !== "(") return this.restriction();
    const open = this.pos;
    this.enter(open);
    this.pos += 1;
    this.skipSpace();
    if (this.atEnd() || this.peek() === ")") this.fail(this.pos, "expected a restriction after '('");
    const node = this.expression();
    this.skipSpace();
    if (this.peek() !== ")") this.fail(this.pos, "expected ')'");
    this.pos += 1;
    this.depth--;
    return node;
  }

  private restriction(): FilterCompare {
    const start = this.pos;
    if (++this.restrictions > maxFilterRestrictions) {
      this.fail(start, `filter has more than ${maxFilterRestrictions} restrictions`);
    }
    const path = [this.segment("expected a field name")];
    while (this.peek() === ".") {
      this.pos += 1;
      path.push(this.segment("expected a field name after '.'"));
    }
    const field = path.join(".");
    this.skipSpace();
    const opStart = this.pos;
    const operator = this.comparator();
    if (!operator) {
      this.fail(opStart, `expected a comparison operator (=, !=, <, <=, >, >=, :) after ${quote(field)}`);
    }
    this.skipSpace();
    const valueStart = this.pos;
    const value = this.literal(operator);
    return {
      kind: "compare",
      path,
      operator,
      value,
      column: this.column(start),
      operatorColumn: this.column(opStart),
      valueColumn: this.column(valueStart),
    };
  }

  private segment(expected: string): string {
    const c = this.peek();
    if (c === '"' || c === "'") return this.quoted().value;
    if (!wordStart.test(c)) this.fail(this.pos, expected);
    const start = this.pos;
    while (!this.atEnd() && wordChar.test(this.peek())) this.pos++;
    return this.text.slice(start, this.pos);
  }

  private comparator(): Comparator | undefined {
    for (const op of ["<=", ">=", "!=", "<", ">", "=", ":"] as const) {
      if (this.text.startsWith(op, this.pos)) {
        this.pos += op.length;
        return op;
      }
    }
    return undefined;
  }

  private literal(operator: Comparator): FilterLiteral {
    const start = this.pos;
    const c = this.peek();
    if (c === '"' || c === "'") return this.quoted();
    if (c === "*") {
      if (operator !== ":") this.fail(start, `a bare '*' is only allowed after ':' (presence test); quote it for a wildcard`);
      this.pos += 1;
      if (!this.atEnd() && !space.test(this.peek()) && this.peek() !== ")") this.fail(this.pos, "expected whitespace or ')' after '*'");
      return { kind: "any" };
    }
    while (!this.atEnd() && valueChar.test(this.peek())) this.pos++;
    const word = this.text.slice(start, this.pos);
    if (word === "" || word === "AND" || word === "OR" || word === "NOT") {
      this.pos = start;
      this.fail(start, `expected a value after '${operator}'`);
    }
    if (numberPattern.test(word)) {
      const value = Number(word);
      if (!Number.isFinite(value)) this.fail(start, "number is out of range");
      return { kind: "number", value, text: word };
    }
    if (word.startsWith("-")) this.fail(start, `${quote(word)} is not a number`);
    if (word === "true" || word === "false") return { kind: "bool", value: word === "true" };
    return { kind: "text", value: word };
  }

  /** A quoted string at pos; `parts` split at unescaped `*`. */
  private quoted(): { kind: "string"; value: string; parts: string[] } {
    const open = this.pos;
    const q = this.text[open]!;
    this.pos += 1;
    const parts = [""];
    for (;;) {
      if (this.atEnd()) this.fail(open, "unterminated string");
      const c = this.text[this.pos]!;
      if (c === q) {
        this.pos += 1;
        break;
      }
      if (c === "\\") {
        const next = this.text[this.pos + 1];
        if (next === undefined) this.fail(open, "unterminated string");
        if (next !== '"' && next !== "'" && next !== "\\" && next !== "*") {
          this.fail(this.pos, `unknown escape '\\${next}' (use \\", \\', \\\\ or \\*)`);
        }
        parts[parts.length - 1] += next;
        this.pos += 2;
        continue;
      }
      if (c === "*") parts.push("");
      else parts[parts.length - 1] += c;
      this.pos += 1;
    }
    // `value` keeps wildcards as "*"; parts is authoritative when there are several.
    return { kind: "string", value: parts.join("*"), parts };
  }

  private enter(at: number): void {
    if (++this.depth > maxFilterDepth) this.fail(at, `filter nests deeper than ${maxFilterDepth} levels`);
  }

  private keywordAt(word: string): boolean {
    if (!this.text.startsWith(word, this.pos)) return false;
    const next = this.text[this.pos + word.length];
    return next === undefined || !(wordChar.test(next) || next === "." || next === '"' || next === "'");
  }

  private skipSpace(): void {
    while (!this.atEnd() && space.test(this.peek())) this.pos++;
  }

  private peek(): string {
    return this.text[this.pos] ?? "";
  }

  private atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  private column(offset: number): number {
    return columnOf(this.text, offset);
  }

  private fail(offset: number, reason: string): never {
    throw new FilterSyntaxError(this.column(offset), reason);
  }
}

function combine(kind: "and" | "or", parts: FilterNode[]): FilterNode {
  if (parts.length === 1) return parts[0]!;
  // Flatten nested nodes of the same kind: (a b) c and a b c are one list.
  const children: FilterNode[] = [];
  for (const p of parts) {
    if (p.kind === kind) children.push(...p.children);
    else children.push(p);
  }
  return { kind, children };
}
