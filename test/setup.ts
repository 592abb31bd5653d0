// Preloaded by bun test (bunfig.toml). Keeps test logs quiet unless asked for.
process.env.TOPOFLEET_LOG_LEVEL ??= "warn";
