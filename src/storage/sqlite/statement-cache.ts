import type Database from "better-sqlite3";
import { ByteBoundedLru } from "../byte-bounded-lru.js";
import { RowReader } from "./row-reader.js";

/** SQL text the prepared statements of each cache may take (two bytes a character); SQLite's own memory for them grows with it. */
const maxStatementSqlBytes = 2 * 1024 * 1024;

/** The statements of one connection, each prepared once and reused. */
export class StatementCache {
  // Bounded: list filters and orderings make SQL of many shapes, chosen by the client.
  private readonly statements = new ByteBoundedLru<Database.Statement>(maxStatementSqlBytes);
  private readonly readers = new ByteBoundedLru<RowReader<unknown>>(maxStatementSqlBytes);

  constructor(private readonly db: Database.Database) {}

  statement(sql: string): Database.Statement {
    let stmt = this.statements.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql);
      this.statements.set(sql, stmt, 0);
    }
    return stmt;
  }

  /** A statement reading model rows (see RowReader). */
  modelRows<Row>(sql: string): RowReader<Row> {
    let reader = this.readers.get(sql);
    if (!reader) {
      reader = new RowReader(this.db.prepare(sql));
      this.readers.set(sql, reader, 0);
    }
    return reader as RowReader<Row>;
  }
}
