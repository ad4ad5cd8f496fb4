// Syscall number -> name for the syscalls the tailer tracks (and a few neighbours that show up
// under other users' rules). RAW logs only carry the number; ENRICHED logs also carry SYSCALL=name,
// which wins when present. Unknown numbers become "syscall_<n>" rather than being dropped.

/** audit arch values (AUDIT_ARCH_*) as they appear in `arch=` (hex, lower case). */
export const ARCH_X86_64 = 'c000003e';
export const ARCH_AARCH64 = 'c00000b7';

const X86_64: Record<number, string> = {
  0: 'read', 1: 'write', 2: 'open', 3: 'close', 9: 'mmap', 10: 'mprotect', 17: 'pread64',
  18: 'pwrite64', 19: 'readv', 20: 'writev', 21: 'access', 22: 'pipe', 32: 'dup', 33: 'dup2',
  41: 'socket', 42: 'connect', 43: 'accept', 44: 'sendto', 45: 'recvfrom', 46: 'sendmsg',
  47: 'recvmsg', 49: 'bind', 50: 'listen', 53: 'socketpair', 56: 'clone', 57: 'fork',
  58: 'vfork', 59: 'execve', 60: 'exit', 62: 'kill', 72: 'fcntl', 76: 'truncate', 77: 'ftruncate',
  80: 'chdir', 82: 'rename', 83: 'mkdir', 84: 'rmdir', 85: 'creat', 86: 'link', 87: 'unlink',
  88: 'symlink', 90: 'chmod', 91: 'fchmod', 92: 'chown', 93: 'fchown', 94: 'lchown',
  101: 'ptrace', 105: 'setuid', 106: 'setgid', 161: 'chroot', 165: 'mount', 166: 'umount2',
  231: 'exit_group', 257: 'openat', 258: 'mkdirat', 260: 'fchownat', 263: 'unlinkat',
  264: 'renameat', 265: 'linkat', 266: 'symlinkat', 268: 'fchmodat', 288: 'accept4',
  292: 'dup3', 293: 'pipe2', 299: 'recvmmsg', 307: 'sendmmsg', 316: 'renameat2',
  319: 'memfd_create', 322: 'execveat', 435: 'clone3', 437: 'openat2', 452: 'fchmodat2',
};

const AARCH64: Record<number, string> = {
  34: 'mkdirat', 35: 'unlinkat', 36: 'symlinkat', 37: 'linkat', 38: 'renameat', 45: 'truncate',
  46: 'ftruncate', 52: 'fchmod', 53: 'fchmodat', 56: 'openat', 57: 'close', 63: 'read',
  64: 'write', 93: 'exit', 94: 'exit_group', 198: 'socket', 200: 'bind', 201: 'listen',
  202: 'accept', 203: 'connect', 206: 'sendto', 207: 'recvfrom', 211: 'sendmsg', 212: 'recvmsg',
  220: 'clone', 221: 'execve', 242: 'accept4', 276: 'renameat2', 279: 'memfd_create',
  281: 'execveat', 435: 'clone3', 437: 'openat2', 452: 'fchmodat2',
};

const names = new Map<string, string[]>();
for (const [arch, table] of [[ARCH_X86_64, X86_64], [ARCH_AARCH64, AARCH64]] as const) {
  const arr: string[] = [];
  for (const [n, name] of Object.entries(table)) arr[Number(n)] = name;
  names.set(arch, arr);
}
const x86 = names.get(ARCH_X86_64)!;

/** Name of syscall `nr` on `arch` (audit's hex arch string); x86_64 when arch is unknown/absent. */
export function syscallName(nr: number, arch?: string): string {
  const table = (arch && names.get(arch)) || x86;
  return table[nr] ?? `syscall_${nr}`;
}

/** Syscalls that create a process (their exit value is the child's pid). */
export const CLONE_LIKE = new Set(['clone', 'clone3', 'fork', 'vfork']);
export const EXEC_LIKE = new Set(['execve', 'execveat']);
