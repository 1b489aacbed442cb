// Leader election on a coordination.k8s.io Lease, so only one replica writes status conditions.
// The holder renews every `renewMs`; another replica takes over once `renewTime + leaseDuration` has
// passed. Writes use the Lease's resourceVersion, so two candidates never both win.
import type { LeaseApi } from './client/apis.ts';
import { statusOf } from './client/errors.ts';
import { microTime } from './client/resources.ts';
import type { Lease } from './client/resources.ts';

export interface LeaderOptions {
  readonly namespace: string;
  readonly name: string;
  readonly identity: string;
  /** Default 15 s. */
  readonly leaseDurationSeconds?: number;
  /** Default 5 s. */
  readonly renewMs?: number;
  readonly onChange?: (leading: boolean) => void;
  readonly onError?: (error: unknown) => void;
}

export class LeaderElector {
  readonly #api: Pick<LeaseApi, 'read' | 'create' | 'replace'>;
  readonly #options: LeaderOptions;
  #leading = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = true;

  constructor(api: Pick<LeaseApi, 'read' | 'create' | 'replace'>, options: LeaderOptions) {
    this.#api = api;
    this.#options = options;
  }

  get leading(): boolean {
    return this.#leading;
  }

  start(): void {
    this.#stopped = false;
    void this.#tick();
  }

  /** Stops renewing and, when holding the Lease, releases it so another replica takes over at once. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    const was = this.#leading;
    this.#set(false);
    if (!was) return;
    const { namespace, name, identity } = this.#options;
    try {
      const lease = await this.#api.read({ namespace, name });
      if (lease.spec?.holderIdentity !== identity) return;
      await this.#api.replace(
        { namespace, name },
        { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1 } },
      );
    } catch (error) {
      this.#options.onError?.(error);
    }
  }

  async #tick(): Promise<void> {
    try {
      this.#set(await this.#tryAcquire());
    } catch (error) {
      this.#options.onError?.(error);
      this.#set(false);
    }
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.#tick(), this.#options.renewMs ?? 5000);
    this.#timer.unref();
  }

  #set(leading: boolean): void {
    if (leading === this.#leading) return;
    this.#leading = leading;
    this.#options.onChange?.(leading);
  }

  async #tryAcquire(): Promise<boolean> {
    const { namespace, name, identity } = this.#options;
    const duration = this.#options.leaseDurationSeconds ?? 15;
    const now = new Date();
    // The apiserver wants MicroTime with exactly six fractional digits (it refuses milliseconds).
    const micro = microTime(now);
    let lease: Lease;
    try {
      lease = await this.#api.read({ namespace, name });
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
      await this.#api.create(namespace, {
        metadata: { name, namespace },
        spec: {
          holderIdentity: identity,
          leaseDurationSeconds: duration,
          acquireTime: micro,
          renewTime: micro,
          leaseTransitions: 0,
        },
      });
      return true;
    }
    const spec = lease.spec ?? {};
    const renewed = spec.renewTime ? new Date(spec.renewTime).getTime() : 0;
    const expired = renewed + (spec.leaseDurationSeconds ?? duration) * 1000 < now.getTime();
    const mine = spec.holderIdentity === identity;
    if (!mine && !expired && spec.holderIdentity) return false;
    await this.#api.replace(
      { namespace, name },
      {
        ...lease,
        spec: {
          ...spec,
          holderIdentity: identity,
          leaseDurationSeconds: duration,
          renewTime: micro,
          ...(mine ? {} : { acquireTime: micro, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 }),
        },
      },
    );
    return true;
  }
}
