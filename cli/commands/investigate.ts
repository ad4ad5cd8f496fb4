import type { Command } from 'commander';

// Placeholder until this command lands; registers nothing.
export function register(_program: Command): void {}
