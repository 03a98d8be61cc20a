import { createHmac, randomBytes } from "node:crypto";

/**
 * Plays Svix for the emulated instance: signs each event (`v1,` HMAC-SHA256 of
 * `${id}.${timestamp}.${body}`), posts it to the app, retries non-2xx answers on a short
 * schedule, and can misbehave on purpose (drop, duplicate, delay, reorder).
 */
export type WebhookSwitches = {
  /** Record events but never send them. */
  drop: boolean;
  /** Send every event twice, with the same svix-id (a Svix redelivery). */
  duplicate: boolean;
  /** Wait this long before the first attempt. */
  delayMs: number;
  /** Hold events; when switched off, send the held ones one after another in `releaseOrder`. */
  reorder: boolean;
  releaseOrder: "newest-first" | "shuffled";
  /** Where events go instead of the app's `/api/webhooks/clerk` (a second app on loopback); null: the app's. */
  url: string | null;
};

/** One POST to the app: its `svix-timestamp` (seconds, signed with the body) and the answer. */
export type DeliveryAttempt = { atMs: number; svixTimestamp: number; status: number | null; error?: string };

export type Delivery = {
  /** The svix-id; a duplicate shares it with its original. */
  id: string;
  type: string;
  userId: string | null;
  /** `dropped` and `held` were not sent (yet); `failed` ran out of retries. */
  status: "pending" | "held" | "dropped" | "delivered" | "failed";
  /**
   * How this copy came about: the event, the duplicate switch, an operator's replay (Svix's
   * Resend, Recover and Replay all send the same svix-id), or the same body sent as a new
   * message (a new svix-id, like the Dashboard's "Send Example": no Svix resend does this).
   */
  kind: "event" | "duplicate" | "replay" | "new-message";
  /** The svix-id of the message this one copies (its own id for a duplicate or a replay). */
  duplicateOf: string | null;
  attempts: DeliveryAttempt[];
  createdAtMs: number;
  /** The exact body sent (what the signature covers). */
  body: string;
};

export const defaultSwitches: WebhookSwitches = { drop: false, duplicate: false, delayMs: 0, reorder: false, releaseOrder: "newest-first", url: null };

/** Delays after the first failed attempt; Svix uses 5 s, 5 min, … — this is the same shape, shortened. */
export const retryScheduleMs = [500, 1000, 2000, 4000];

type Options = {
  url: string;
  signingSecret: string;
  instanceId: string;
  fetch?: typeof fetch;
  log?: (line: string) => void;
};

function newMessageId() {
  return `msg_${randomBytes(14).toString("hex")}`;
}

export function signWebhook(secret: string, id: string, timestampSeconds: number, body: string) {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  return `v1,${createHmac("sha256", key).update(`${id}.${timestampSeconds}.${body}`).digest("base64")}`;
}

export class WebhookDispatcher {
  switches: WebhookSwitches = { ...defaultSwitches };
  private deliveries: Delivery[] = [];
  private held: Delivery[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Bumped on reset so attempts scheduled before it do nothing. */
  private generation = 0;

  constructor(private readonly options: Options) {}

  list(): Delivery[] {
    return this.deliveries;
  }

  reset() {
    this.generation++;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.deliveries = [];
    this.held = [];
    this.switches = { ...defaultSwitches };
  }

  setSwitches(patch: Partial<WebhookSwitches>) {
    const wasReordering = this.switches.reorder;
    this.switches = { ...this.switches, ...patch };
    if (wasReordering && !this.switches.reorder) this.releaseHeld();
  }

  /**
   * Sends the held events newest first (or shuffled), each first attempt after the previous
   * one was answered, so the app sees exactly that order. Retries then run on their own.
   */
  releaseHeld() {
    const held = this.switches.releaseOrder === "shuffled" ? shuffle(this.held) : this.held.reverse();
    this.held = [];
    for (const delivery of held) delivery.status = "pending";
    const generation = this.generation;
    void (async () => {
      for (const delivery of held) {
        if (generation !== this.generation) return;
        await this.attempt(delivery, 0);
      }
    })();
  }

  /** Records and sends one Clerk event, `{ data, object, type, timestamp, instance_id, event_attributes }`. */
  emit(type: string, data: Record<string, unknown>, nowMs = Date.now()): Delivery {
    const body = JSON.stringify({
      data,
      event_attributes: { http_request: { client_ip: "127.0.0.1", user_agent: "clerk-emulator" } },
      instance_id: this.options.instanceId,
      object: "event",
      timestamp: nowMs,
      type,
    });
    const userId = typeof data.id === "string" ? data.id : null;
    const delivery = this.record({ id: newMessageId(), type, userId, body, kind: "event", duplicateOf: null, nowMs });
    if (this.switches.drop) {
      delivery.status = "dropped";
      return delivery;
    }
    const copies = [delivery];
    if (this.switches.duplicate) {
      copies.push(this.record({ id: delivery.id, type, userId, body, kind: "duplicate", duplicateOf: delivery.id, nowMs }));
    }
    for (const copy of copies) {
      if (this.switches.reorder) {
        copy.status = "held";
        this.held.push(copy);
      } else {
        this.schedule(copy, 0, this.switches.delayMs);
      }
    }
    return delivery;
  }

  /**
   * An operator's replay, as Svix does it: the same svix-id and body, a fresh `svix-timestamp`
   * and signature (signed at each attempt). For an app that applied the message, a duplicate.
   */
  replay(svixId: string): Delivery | null {
    return this.copy(svixId, "replay");
  }

  /** The recorded body again as a new message (a new svix-id): for the app, a message it has never seen. */
  sendAsNew(svixId: string): Delivery | null {
    return this.copy(svixId, "new-message");
  }

  private copy(svixId: string, kind: "replay" | "new-message") {
    const original = this.deliveries.find((d) => d.id === svixId);
    if (!original) return null;
    const id = kind === "replay" ? original.id : newMessageId();
    const copy = this.record({ ...original, id, kind, duplicateOf: original.id, nowMs: Date.now() });
    this.schedule(copy, 0, 0);
    return copy;
  }

  /** Resolves when nothing is pending (held and dropped events do not count). */
  async idle(timeoutMs = 15_000) {
    const deadline = Date.now() + timeoutMs;
    while (this.deliveries.some((d) => d.status === "pending")) {
      if (Date.now() > deadline) throw new Error("Webhook deliveries still pending");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  private record(input: {
    id: string;
    type: string;
    userId: string | null;
    body: string;
    kind: Delivery["kind"];
    duplicateOf: string | null;
    nowMs: number;
  }) {
    const delivery: Delivery = {
      id: input.id,
      type: input.type,
      userId: input.userId,
      status: "pending",
      kind: input.kind,
      duplicateOf: input.duplicateOf,
      attempts: [],
      createdAtMs: input.nowMs,
      body: input.body,
    };
    this.deliveries.push(delivery);
    return delivery;
  }

  private schedule(delivery: Delivery, attempt: number, delayMs: number) {
    const generation = this.generation;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (generation === this.generation) void this.attempt(delivery, attempt);
    }, delayMs);
    this.timers.add(timer);
  }

  private async attempt(delivery: Delivery, attempt: number) {
    const generation = this.generation;
    const timestampSeconds = Math.floor(Date.now() / 1000);
    const record: DeliveryAttempt = { atMs: Date.now(), svixTimestamp: timestampSeconds, status: null };
    try {
      const response = await (this.options.fetch ?? fetch)(this.switches.url ?? this.options.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "user-agent": "Svix-Webhooks/1.0 (clerk-emulator)",
          "svix-id": delivery.id,
          "svix-timestamp": String(timestampSeconds),
          "svix-signature": signWebhook(this.options.signingSecret, delivery.id, timestampSeconds, delivery.body),
        },
        body: delivery.body,
        signal: AbortSignal.timeout(15_000),
      });
      record.status = response.status;
      if (!response.ok) record.error = (await response.text()).slice(0, 300);
    } catch (error) {
      record.error = error instanceof Error ? error.message : String(error);
    }
    if (generation !== this.generation) return;
    delivery.attempts.push(record);
    const ok = record.status !== null && record.status >= 200 && record.status < 300;
    this.options.log?.(`webhook ${delivery.type} ${delivery.id} attempt ${attempt + 1}: ${record.status ?? record.error}`);
    if (ok) {
      delivery.status = "delivered";
    } else if (attempt < retryScheduleMs.length) {
      this.schedule(delivery, attempt + 1, retryScheduleMs[attempt]!);
    } else {
      delivery.status = "failed";
    }
  }
}

function shuffle<T>(items: T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}
