// Command jetjobs is the jetjobs command line: an embedded NATS server with
// JetStream, a standalone worker that runs a command or calls a URL for each
// job, and tools to enqueue jobs, inspect queues and handle dead letters.
//
// Usage:
//
//	jetjobs demo                              # see it work, in one process
//	jetjobs server [--listen H:P] [--store DIR] [--sync-always]
//	jetjobs worker --exec KIND=COMMAND [--http KIND=URL] [--queue Q] ...
//	jetjobs enqueue [--queue Q] [--id ID] [--count N] KIND [JSON|-]
//	jetjobs queues [--json]
//	jetjobs job show ID
//	jetjobs dlq ls|show|replay|purge
//	jetjobs cron ls|add|rm
//	jetjobs cancel ID...
//	jetjobs version
//
// Every command that talks to NATS takes the nats CLI's connection flags
// (-s/--server or NATS_URL, --creds, --user, --password, --token, --nkey,
// --tlscert, --tlskey, --tlsca) and its environment variables (NATS_USER,
// NATS_PASSWORD, NATS_TOKEN, NATS_CREDS, NATS_NKEY), which keep secrets out
// of the process list, as --password-file and --token-file do. Logs go to stderr through log/slog:
// coloured text on a terminal, JSON otherwise (--log-format, --log-level).
// Bad input exits 2, any other failure 1, each with one line on stderr.
// docs/cli.md documents every command.
//
// Each command lives in its own file and registers itself from init with
// register, so a new command is a new file.
package main
