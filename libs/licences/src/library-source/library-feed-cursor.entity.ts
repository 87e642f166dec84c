import { Column, Entity, PrimaryColumn } from 'typeorm';
import { epochMs } from '@tongban/persistence';

/** Serialises moves of the cursor across replicas (PostgreSQL; SQLite has one writer anyway). */
export const FEED_LOCK = 7_415_841;

/** Id of the single row of `library_feed_cursor`. */
export const LIBRARY_FEED_CURSOR_ID = 1;

const bigintNumber = {
  to: (v: number) => v,
  from: (v: string | number) => Number(v),
};

/** The licence library's feed position: the cursor to ask with next, how many changes were applied, and the last full synchronisation. */
@Entity('library_feed_cursor')
export class LibraryFeedCursorEntity {
  @PrimaryColumn({ type: 'integer' }) id: number;
  @Column({ type: 'text' }) cursor: string;
  @Column({ type: 'bigint', transformer: bigintNumber }) applied: number;
  @Column({ name: 'updated_at', type: 'bigint', nullable: true, transformer: epochMs }) updatedAt: Date | null;
  /** When the statuses were last brought in line with the library's full listing; null: never (docs/licence-library.md §5.2). */
  @Column({ name: 'synced_at', type: 'bigint', nullable: true, transformer: epochMs }) syncedAt: Date | null;
}
