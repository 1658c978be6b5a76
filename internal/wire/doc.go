// Package wire owns the names and formats of jetjobs' wire protocol v1:
// header names, subjects, message IDs and reserved ID prefixes, the
// dead-letter message, the JetStream acknowledgement subject and verbs, and
// the JetStream API prefix. docs/protocol.md describes the protocol in
// prose; this package is its Go source of truth.
//
// wire is a leaf: it imports only the standard library and nats.go. Other
// jetjobs packages use its constants and functions instead of string
// literals, and job re-exports what applications need.
package wire
