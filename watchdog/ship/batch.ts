// Event texts accumulate as UTF-8 bytes in one off-heap buffer, and a batch is sealed from those
// bytes. Encoding each text once, as it is queued, means the strings die young (no survivors for
// the scavenger to copy), and the MAC and the POST read the same bytes with no second encoding.
// The wire embeds each event's text verbatim, which is what the collector stores and verify
// re-MACs.
import { batchMac, SCHEMA_VERSION } from '../../events';

export interface SealedBatch {
  seq: number;
  mac: string;
  events: number;
  /** The whole request body. */
  wire: Buffer;
}

const OPEN = 0x5b; // [
const COMMA = 0x2c;
const CLOSE = 0x5d; // ]
const BRACE = 0x7d; // }

export class BatchBuffer {
  private buf: Buffer;
  private used = 1;
  count = 0;

  /** capacity: bytes of event text a batch normally holds; a single larger event gets its own. */
  constructor(private readonly capacity: number) {
    this.buf = Buffer.allocUnsafeSlow(capacity);
    this.buf[0] = OPEN;
  }

  /** Bytes queued so far. */
  get bytes(): number {
    return this.used;
  }

  /** Appends one event's JSON text; false when it may not fit, and the caller seals first. */
  add(text: string): boolean {
    // A UTF-16 code unit never takes more than 3 UTF-8 bytes; +2 for the comma and the ']'.
    const worst = text.length * 3 + 2;
    if (this.used + worst > this.buf.length) {
      if (this.count > 0) return false;
      this.buf = Buffer.allocUnsafeSlow(worst + 1);
      this.buf[0] = OPEN;
    }
    if (this.count > 0) this.buf[this.used++] = COMMA;
    this.used += this.buf.write(text, this.used, 'utf8');
    this.count++;
    return true;
  }

  /** Seals what is queued as batch `seq` chained to `prev`, and empties the buffer. */
  seal(token: string, source: string, seq: number, prev: string): SealedBatch {
    this.buf[this.used++] = CLOSE;
    const events = this.buf.subarray(0, this.used);
    const mac = batchMac(token, source, seq, prev, events);
    const head = `{"v":${SCHEMA_VERSION},"source":${JSON.stringify(source)},"seq":${seq},"prev":"${prev}","mac":"${mac}","events":`;
    const headBytes = Buffer.byteLength(head);
    const wire = Buffer.allocUnsafeSlow(headBytes + this.used + 1);
    wire.write(head, 0, 'utf8');
    events.copy(wire, headBytes);
    wire[wire.length - 1] = BRACE;
    const sealed = { seq, mac, events: this.count, wire };
    if (this.buf.length !== this.capacity) {
      this.buf = Buffer.allocUnsafeSlow(this.capacity);
      this.buf[0] = OPEN;
    }
    this.used = 1;
    this.count = 0;
    return sealed;
  }
}
