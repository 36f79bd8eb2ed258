import type Database from "better-sqlite3";

/**
 * A prepared SELECT whose rows better-sqlite3 hands over as arrays, made into
 * objects here: for the ~40 columns of a model row that costs about half of
 * better-sqlite3's own objects, and model rows are read on every call.
 */
export class RowReader<Row> {
  private readonly statement: Database.Statement;
  private readonly columns: string[];

  constructor(statement: Database.Statement) {
    this.columns = statement.columns().map((c) => c.name);
    this.statement = statement.raw(true);
  }

  get(...params: unknown[]): Row | undefined {
    const values = this.statement.get(...params) as unknown[] | undefined;
    return values && this.object(values);
  }

  all(...params: unknown[]): Row[] {
    return (this.statement.all(...params) as unknown[][]).map((values) => this.object(values));
  }

  private object(values: unknown[]): Row {
    const row: Record<string, unknown> = {};
    for (let i = 0; i < values.length; i++) row[this.columns[i]!] = values[i];
    return row as Row;
  }
}
