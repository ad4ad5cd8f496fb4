// Placeholder entry until the watchdog lands.
process.stderr.write('fwatchdog: not built yet\n');
process.exit(1);
