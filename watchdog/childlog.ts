// Function process output, logged line by line as of-watchdog does: with prefix_logs each line
// becomes "<date> <time> stdout: <line>", without it the line is copied as is. A line longer than
// log_buffer_size is cut into pieces of that size (of-watchdog stops logging the stream there;
// losing the rest of a function's output is worse than splitting a line).
import type { Readable } from 'node:stream';
import { stderrWriter, stdoutWriter, timestamp } from './logging';

export interface ChildLogOptions {
  prefixLogs: boolean;
  /** Longest line in characters; negative means unlimited. */
  logBufferSize: number;
}

export function pipeChildLog(stream: Readable, name: 'stdout' | 'stderr', opts: ChildLogOptions): void {
  const writer = name === 'stdout' ? stdoutWriter : stderrWriter;
  const max = opts.logBufferSize > 0 ? opts.logBufferSize : Infinity;
  const emit = opts.prefixLogs
    ? (line: string) => writer.push(`${timestamp()}${name}: ${line}\n`)
    : (line: string) => writer.push(line + '\n');
  let partial = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    let text = partial + chunk;
    let nl: number;
    while ((nl = text.indexOf('\n')) !== -1) {
      let line = text.slice(0, nl);
      text = text.slice(nl + 1);
      if (line.endsWith('\r')) line = line.slice(0, -1);
      while (line.length > max) {
        emit(line.slice(0, max));
        line = line.slice(max);
      }
      emit(line);
    }
    while (text.length > max) {
      emit(text.slice(0, max));
      text = text.slice(max);
    }
    partial = text;
  });
  stream.on('end', () => {
    if (partial !== '') emit(partial);
    partial = '';
  });
  stream.on('error', () => {});
}
