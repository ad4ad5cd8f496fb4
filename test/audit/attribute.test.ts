// Invocation windows at scale: many short ended windows, a long one, open ones, pid-bound ones.
import { ProcessTree, Windows, START_SLACK_US } from '../../watchdog/audit/attribute';

test('10,000 sequential windows: each event lands in the window around it, gaps stay with the instance', () => {
  const tree = new ProcessTree(1);
  const w = new Windows();
  const t0 = 1_800_000_000_000_000;
  // Windows of 1 ms every 20 ms (http mode: no pid), ended; one long window of 50 ms early on.
  w.start({ invocation: 'long', tsUs: t0 + 5_000 });
  for (let i = 0; i < 10000; i++) {
    w.start({ invocation: `w${i}`, tsUs: t0 + i * 20_000 });
    w.end({ invocation: `w${i}`, tsUs: t0 + i * 20_000 + 1_000 });
  }
  w.end({ invocation: 'long', tsUs: t0 + 55_000 });
  w.start({ invocation: 'open', tsUs: t0 + 10000 * 20_000 });
  for (const i of [0, 1, 2, 3, 17, 500, 9998, 9999]) {
    expect(w.attribute({ ts: t0 + i * 20_000 + 500, pid: 5 }, tree).invocation).toBe(`w${i}`);
  }
  // Inside the long window only (between w2 and w3): the long one.
  expect(w.attribute({ ts: t0 + 50_000, pid: 5 }, tree).invocation).toBe('long');
  // In a gap after the long window: nobody's.
  expect(w.attribute({ ts: t0 + 400_000 + 4_000, pid: 5 }, tree)).toEqual({ outsideInvocation: true });
  // Still open at the end.
  expect(w.attribute({ ts: t0 + 10000 * 20_000 + 999_999, pid: 5 }, tree).invocation).toBe('open');
  // Just before a window's start, within the coarse clock's slack: that window.
  expect(w.attribute({ ts: t0 + 700 * 20_000 - START_SLACK_US / 2, pid: 5 }, tree).invocation).toBe('w700');
  w.prune(t0 + 10000 * 20_000 + 61e6);
  expect(w.size).toBe(1); // only the open one survives a minute later
});

test('pid-bound windows: a background process outlives its invocation and is not given to the next one', () => {
  const tree = new ProcessTree(1);
  const w = new Windows();
  const t = 1_800_000_000_000_000;
  // Invocation 1's forked process 100 starts a background child 101 (learned from its first event).
  w.start({ invocation: 'inv1', tsUs: t, pid: 100 });
  expect(tree.observe({ pid: 100, ppid: 1, syscall: 'clone', success: true, exit: 101, ts: t + 10 } as never)).toBe(true);
  w.end({ invocation: 'inv1', tsUs: t + 1000 });
  w.start({ invocation: 'inv2', tsUs: t + 5000, pid: 200 });
  expect(tree.observe({ pid: 200, ppid: 1, syscall: 'execve', success: true, exit: 0, ts: t + 5001 } as never)).toBe(true);
  // The background process writes during invocation 2's window.
  expect(w.attribute({ ts: t + 6000, pid: 101 }, tree)).toEqual({ outsideInvocation: true });
  expect(w.attribute({ ts: t + 6000, pid: 200 }, tree).invocation).toBe('inv2');
  expect(w.attribute({ ts: t + 500, pid: 101 }, tree).invocation).toBe('inv1');
});

test('overlapping windows of one pid: the latest start is named and the others listed; an exact fit beats the slack', () => {
  const tree = new ProcessTree(1);
  const w = new Windows();
  const t = 1_800_000_000_000_000;
  // http mode: the upstream (pid 7) serves A, B and C; B and C start while A is in flight.
  w.start({ invocation: 'A', tsUs: t, pid: 7 });
  w.start({ invocation: 'B', tsUs: t + 2_000, pid: 7 });
  w.start({ invocation: 'C', tsUs: t + 4_000, pid: 7 });
  w.end({ invocation: 'B', tsUs: t + 6_000 });
  expect(tree.observe({ pid: 7, ppid: 1, syscall: 'execve', success: true, exit: 0, ts: t } as never)).toBe(true);
  const at = (us: number) => w.attribute({ ts: t + us, pid: 7 }, tree);
  expect(at(1_000)).toEqual({ invocation: 'A', outsideInvocation: false }); // B's slack does not make it a tie
  expect(at(3_000)).toEqual({ invocation: 'B', outsideInvocation: false, alsoIn: ['A'] });
  const all = at(5_000);
  expect(all.invocation).toBe('C');
  expect([...all.alsoIn!].sort()).toEqual(['A', 'B']);
  expect(at(7_000)).toEqual({ invocation: 'C', outsideInvocation: false, alsoIn: ['A'] }); // B has ended
});
