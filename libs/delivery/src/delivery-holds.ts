import { Injectable } from '@nestjs/common';

/**
 * Peers the dispatcher must send nothing to for now. After a restore from a backup each peer is
 * held until its resync is done (docs/operations.md §8.5): our `seq` counters are behind what the
 * peer has seen, and a message sent before the floor is raised would be refused there as a reused
 * `seq`.
 */
@Injectable()
export class DeliveryHolds {
  private readonly peers = new Set<string>();

  /** Holds `peers` (participant codes). */
  hold(peers: Iterable<string>): void {
    for (const p of peers) if (/^\d{6}$/.test(p)) this.peers.add(p);
  }

  /** Lets the dispatcher send to `peer` again. */
  release(peer: string): void {
    this.peers.delete(peer);
  }

  /** The peers held now (participant codes, six digits each). */
  held(): string[] {
    return [...this.peers];
  }
}
