import { Type, type Static } from '@sinclair/typebox';
import { MAX_CLAIM, MAX_PRIORITY, OUTCOMES, TICKET_STATUSES } from '../core/ticket.js';

const NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._=-]{0,63}$';
const Name = (description: string) => Type.String({ pattern: NAME_PATTERN, description });
const Literals = <T extends string>(values: readonly T[]) => Type.Union(values.map((v) => Type.Literal(v)));

export const ErrorSchema = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'stable error code' }),
      message: Type.String({ description: 'what went wrong and how to fix it' }),
      details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    }),
  },
  { $id: 'Error' },
);

export const RefsSchema = Type.Object(
  {
    job: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    build: Type.Optional(Type.Integer({ minimum: 1 })),
    step: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  },
  { additionalProperties: false },
);

export const ResultSchema = Type.Object(
  {
    outcome: Literals(OUTCOMES),
    code: Type.Optional(Type.String({ maxLength: 100 })),
    message: Type.Optional(Type.String({ maxLength: 10_000 })),
    data: Type.Optional(Type.Unknown()),
  },
  { additionalProperties: false },
);

export const LeaseSchema = Type.Object({
  holder: Type.String(),
  token: Type.Integer(),
  expiresAt: Type.Integer({ description: 'ms since the epoch, by the coordinator clock' }),
});

export const TicketSchema = Type.Object(
  {
    id: Type.String(),
    kind: Type.String(),
    labels: Type.Array(Type.String()),
    payload: Type.Unknown(),
    refs: RefsSchema,
    priority: Type.Integer(),
    status: Literals(TICKET_STATUSES),
    attempt: Type.Integer(),
    maxAttempts: Type.Integer(),
    lease: Type.Union([LeaseSchema, Type.Null()]),
    holder: Type.Union([Type.String(), Type.Null()]),
    leases: Type.Array(Type.Object({ attempt: Type.Integer(), holder: Type.String(), at: Type.Integer() })),
    result: Type.Union([ResultSchema, Type.Null()]),
    idempotencyKey: Type.Union([Type.String(), Type.Null()]),
    cancelRequested: Type.Boolean(),
    followUp: Type.Union([Type.Unknown(), Type.Null()], { description: 'ticket posted when this one ends' }),
    createdAt: Type.Integer(),
    updatedAt: Type.Integer(),
  },
  { $id: 'Ticket' },
);

const ticketFields = {
  kind: Name('worker kind that serves this ticket'),
  labels: Type.Optional(Type.Array(Name('capability the worker must offer'), { maxItems: 32 })),
  payload: Type.Optional(Type.Unknown()),
  refs: Type.Optional(RefsSchema),
  priority: Type.Optional(Type.Integer({ minimum: -MAX_PRIORITY, maximum: MAX_PRIORITY, description: 'higher first' })),
  maxAttempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
  idempotencyKey: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'a retry with the same key returns the same ticket' })),
};

export const PostTicketBody = Type.Object(
  {
    ...ticketFields,
    followUp: Type.Optional(
      Type.Object(ticketFields, { additionalProperties: false, description: 'posted atomically when this ticket ends, however it ends' }),
    ),
  },
  { additionalProperties: false },
);
export type PostTicketBody = Static<typeof PostTicketBody>;

export const ListTicketsQuery = Type.Object(
  {
    status: Type.Optional(Literals(TICKET_STATUSES)),
    kind: Type.Optional(Name('only tickets of this kind')),
    job: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    after: Type.Optional(Type.String({ pattern: '^[0-9A-Za-z_-]{1,64}$', description: 'cursor: the last id of the previous page' })),
    limit: Type.Optional(Type.String({ pattern: '^(?:[1-9][0-9]{0,2}|1000)$', description: '1-1000, default 100' })),
  },
  { additionalProperties: false },
);
export type ListTicketsQuery = Static<typeof ListTicketsQuery>;

export const TicketListSchema = Type.Object({
  tickets: Type.Array(Type.Ref(TicketSchema)),
  next: Type.Union([Type.String(), Type.Null()], { description: 'cursor for the next page, null at the end' }),
});

export const IdParams = Type.Object({ id: Type.String({ pattern: '^[0-9A-Za-z_-]{1,64}$' }) });
export type IdParams = Static<typeof IdParams>;

export const ClaimBody = Type.Object(
  {
    workerId: Type.String({ minLength: 1, maxLength: 200 }),
    kinds: Type.Array(Name('a kind this worker serves'), { minItems: 1, maxItems: 32 }),
    labels: Type.Optional(Type.Array(Name('a capability this worker offers'), { maxItems: 64 })),
    waitMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 120_000, description: 'long-poll time; 204 when it passes' })),
    claimId: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'a retry with the same id returns the same lease(s)' })),
    max: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: MAX_CLAIM,
        description: `claim up to this many tickets at once (a worker's free slots); the answer is then {grants: [...]}, 1 to max of them`,
      }),
    ),
  },
  { additionalProperties: false },
);
export type ClaimBody = Static<typeof ClaimBody>;

const Grant = Type.Object({
  ticket: Type.Ref(TicketSchema),
  lease: Type.Object({ token: Type.Integer(), expiresAt: Type.Integer(), ttlMs: Type.Integer() }),
});

/** One lease (a claim without `max`), or `grants` (with `max`): each ticket with its own lease and token. */
export const ClaimResponse = Type.Union([Grant, Type.Object({ grants: Type.Array(Grant, { minItems: 1, maxItems: MAX_CLAIM }) })]);

export const TokenBody = Type.Object({ token: Type.Integer({ minimum: 1 }) }, { additionalProperties: false });
export type TokenBody = Static<typeof TokenBody>;

export const CompleteBody = Type.Object(
  { token: Type.Integer({ minimum: 1 }), result: ResultSchema },
  { additionalProperties: false },
);
export type CompleteBody = Static<typeof CompleteBody>;
