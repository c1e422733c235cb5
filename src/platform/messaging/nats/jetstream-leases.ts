import {
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
} from "@nats-io/jetstream";
import type { Clock } from "../../time/index.ts";
import type { LeaseStore } from "../driver.ts";
import type { JetStreamNames } from "./names.ts";

interface LeaseValue {
  owner: string;
  expiresAt: number;
}

/**
 * Leases as the last message per subject of one stream (what NATS KV does underneath): a write is a
 * compare-and-set through the `lastSubjectSequence` expectation, so two members never both win.
 */
export class JetStreamLeaseStore implements LeaseStore {
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #names: JetStreamNames;
  readonly #clock: Clock;
  #ready: Promise<void> | undefined;

  constructor(js: JetStreamClient, jsm: JetStreamManager, names: JetStreamNames, clock: Clock) {
    this.#js = js;
    this.#jsm = jsm;
    this.#names = names;
    this.#clock = clock;
  }

  async tryAcquire(scope: string, name: string, owner: string, ttlMs: number): Promise<boolean> {
    const subject = this.#names.lease(scope, name);
    const { value, seq } = await this.#read(subject);
    if (value && value.owner !== owner && value.expiresAt > this.#clock.now()) return false;
    return this.#write(subject, { owner, expiresAt: this.#clock.now() + ttlMs }, seq);
  }

  async release(scope: string, name: string, owner: string): Promise<void> {
    const subject = this.#names.lease(scope, name);
    const { value, seq } = await this.#read(subject);
    if (value?.owner === owner) await this.#write(subject, { owner: "", expiresAt: 0 }, seq);
  }

  async holders(scope: string, prefix: string): Promise<string[]> {
    await this.#ensure();
    const filter = `${this.#names.lease(scope, prefix)}>`;
    const info = await this.#jsm.streams.info(this.#names.leaseStream, { subjects_filter: filter });
    const subjects = Object.keys(info.state.subjects ?? {});
    const now = this.#clock.now();
    const values = await Promise.all(subjects.map((s) => this.#read(s)));
    return values.flatMap(({ value }) => (value?.owner && value.expiresAt > now ? [value.owner] : []));
  }

  async #read(subject: string): Promise<{ value: LeaseValue | undefined; seq: number }> {
    await this.#ensure();
    const stored = await this.#jsm.streams.getMessage(this.#names.leaseStream, { last_by_subj: subject });
    return stored ? { value: stored.json<LeaseValue>(), seq: stored.seq } : { value: undefined, seq: 0 };
  }

  async #write(subject: string, value: LeaseValue, seq: number): Promise<boolean> {
    try {
      await this.#js.publish(subject, JSON.stringify(value), { expect: { lastSubjectSequence: seq } });
      return true;
    } catch (err) {
      // "wrong last sequence": another member wrote first; it holds the lease.
      if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamWrongLastSequence)
        return false;
      throw err;
    }
  }

  #ensure(): Promise<void> {
    this.#ready ??= this.#jsm.streams
      .add({
        name: this.#names.leaseStream,
        subjects: [`${this.#names.namespace}._leases.>`],
        max_msgs_per_subject: 1,
      })
      .then(
        () => undefined,
        async (err) => {
          // Another process created it first: fine when it exists now.
          await this.#jsm.streams.info(this.#names.leaseStream).catch(() => Promise.reject(err));
        },
      );
    return this.#ready;
  }
}
