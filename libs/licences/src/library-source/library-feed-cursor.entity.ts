import { Column, Entity, PrimaryColumn } from 'typeorm';
import { epochMs } from '@tongban/persistence';

/** Id of the single row of `library_feed_cursor`. */
export const LIBRARY_FEED_CURSOR_ID = 1;

const bigintNumber = {
  to: (v: number) => v,
  from: (v: string | number) => Number(v),
};

/** The licence library's feed position: the cursor to ask with next, and how many changes were applied. */
@Entity('library_feed_cursor')
export class LibraryFeedCursorEntity {
  @PrimaryColumn({ type: 'integer' }) id: number;
  @Column({ type: 'text' }) cursor: string;
  @Column({ type: 'bigint', transformer: bigintNumber }) applied: number;
  @Column({ name: 'updated_at', type: 'bigint', nullable: true, transformer: epochMs }) updatedAt: Date | null;
}
