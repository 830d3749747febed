import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { EMPTY_MASK_STATE, type MaskState, type SecretMasker } from './mask.js';

/** Sends console chunk `seq`; retried inside (same seq and text), throws when it gives up. */
export type SendChunk = (seq: number, text: string) => Promise<void>;

export interface ConsoleWriterOptions {
  send: SendChunk;
  masker: SecretMasker;
  /** How long output may wait before it is sent (default 200 ms). */
  flushMs?: number;
  /** Chunk size limit in UTF-8 bytes; a full chunk is sent at once (default 64 KiB). */
  maxChunkBytes?: number;
  /** Above this many unsent bytes `write` returns false until `drain` (default 4 MiB). */
  highWaterMark?: number;
  log?: Logger;
}

export interface ConsoleWriterEvents {
  /** A chunk was acknowledged by a frontend. */
  chunk: [seq: number, text: string];
  drain: [];
  failed: [err: Error];
}

/**
 * The console of one step attempt: masked output cut into ordered chunks (seq 0, 1, 2...)
 * sent one at a time, so chunks are never reordered. Output waits at most `flushMs`, or
 * goes at once when a chunk is full. After a send fails for good (lease lost, aborted),
 * everything further is dropped: nothing more may be written under that token.
 */
export class ConsoleWriter extends EventEmitter<ConsoleWriterEvents> {
  readonly masker: SecretMasker;
  private readonly send: SendChunk;
  private readonly flushMs: number;
  private readonly maxChunkBytes: number;
  private readonly highWaterMark: number;
  private readonly log: Logger | undefined;
  private maskState: MaskState = EMPTY_MASK_STATE;
  private buffered = '';
  private bufferedBytes = 0;
  private nextSeq = 0;
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> | null = null;
  private wantDrain = false;
  private closed = false;
  private failure: Error | null = null;

  constructor(options: ConsoleWriterOptions) {
    super();
    this.send = options.send;
    this.masker = options.masker;
    this.flushMs = options.flushMs ?? 200;
    this.maxChunkBytes = options.maxChunkBytes ?? 64 * 1024;
    this.highWaterMark = options.highWaterMark ?? 4 * 1024 * 1024;
    this.log = options.log;
  }

  /** The error that stopped the console, if any. */
  get failed(): Error | null {
    return this.failure;
  }

  /** Number of chunks cut so far. */
  get chunks(): number {
    return this.nextSeq;
  }

  /** Queues output; false means "pause the producer until `drain`". */
  write(text: string): boolean {
    if (this.closed || this.failure || text.length === 0) return true;
    const { out, state } = this.masker.release(this.maskState, text, false);
    this.maskState = state;
    this.push(out);
    if (this.bufferedBytes <= this.highWaterMark) return true;
    this.wantDrain = true;
    return false;
  }

  line(text: string): boolean {
    return this.write(`${text}\n`);
  }

  /** Sends everything that may leave now and resolves when it was acknowledged (or failed). */
  async flush(): Promise<void> {
    this.clearTimer();
    while (!this.failure && (this.sending || this.buffered.length > 0)) {
      if (!this.sending) this.kick();
      await this.sending;
    }
  }

  /** Releases the held-back tail, sends the rest and stops accepting output. */
  async close(): Promise<void> {
    if (this.closed) return this.flush();
    const { out } = this.masker.release(this.maskState, '', true);
    this.maskState = EMPTY_MASK_STATE;
    this.push(out);
    this.closed = true;
    await this.flush();
  }

  private push(out: string): void {
    if (out.length === 0 || this.failure) return;
    this.buffered += out;
    this.bufferedBytes += Buffer.byteLength(out, 'utf8');
    this.schedule();
  }

  private schedule(): void {
    if (this.buffered.length === 0) return;
    if (this.bufferedBytes >= this.maxChunkBytes) {
      this.clearTimer();
      this.kick();
    } else if (!this.timer && !this.sending) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.kick();
      }, this.flushMs);
    }
  }

  private kick(): void {
    if (this.sending) return;
    this.sending = this.drainBuffer().finally(() => {
      this.sending = null;
      // Output that arrived during the last send waits its normal flush delay.
      if (!this.failure) this.schedule();
    });
  }

  private async drainBuffer(): Promise<void> {
    while (this.buffered.length > 0 && !this.failure) {
      const text = this.cut();
      const seq = this.nextSeq++;
      try {
        await this.send(seq, text);
      } catch (err) {
        this.fail(err as Error);
        return;
      }
      this.emit('chunk', seq, text);
      if (this.wantDrain && this.bufferedBytes <= this.highWaterMark) {
        this.wantDrain = false;
        this.emit('drain');
      }
    }
  }

  /** Takes at most `maxChunkBytes` UTF-8 bytes off the front, never splitting a character. */
  private cut(): string {
    let text = this.buffered;
    let bytes = this.bufferedBytes;
    if (bytes > this.maxChunkBytes) {
      text = this.buffered.slice(0, this.maxChunkBytes);
      bytes = Buffer.byteLength(text, 'utf8');
      while (bytes > this.maxChunkBytes) {
        text = text.slice(0, Math.max(1, Math.floor((text.length * this.maxChunkBytes) / bytes)));
        bytes = Buffer.byteLength(text, 'utf8');
      }
      const last = text.charCodeAt(text.length - 1);
      if (text.length > 1 && last >= 0xd800 && last <= 0xdbff) {
        text = text.slice(0, -1);
        bytes = Buffer.byteLength(text, 'utf8');
      }
    }
    this.buffered = this.buffered.slice(text.length);
    this.bufferedBytes -= bytes;
    return text;
  }

  private fail(err: Error): void {
    this.failure = err;
    this.buffered = '';
    this.bufferedBytes = 0;
    this.clearTimer();
    this.log?.warn({ err }, 'console output stopped: a chunk could not be sent; the rest of the output is dropped');
    this.emit('failed', err);
    if (this.wantDrain) {
      this.wantDrain = false;
      this.emit('drain');
    }
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
