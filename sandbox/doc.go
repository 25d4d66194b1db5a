// Package sandbox emulates the Constant Contact XML/Atom contacts API
// (/ws/customers/{user}/contacts and /lists) over a SQLite store, so that
// every feature of ctctbulk can be rehearsed and tested without an account.
//
// A *Sandbox is an http.Handler: the `ctctbulk sandbox` subcommand and the
// tests serve the same handler, over real HTTP. It implements the behaviour
// described in docs/PROTOCOL.md: HTTP Basic ({APIKey}%{User}) or Bearer
// authentication, Atom feeds of at most PageSize entries with opaque keyset
// "next" tokens that stay correct while contacts are added during a walk,
// email searches, updatedsince queries, creation with 201 and Location,
// full-replace PUT, DELETE as an opt-out to "Do Not Mail", and the API's
// validation rules (through the ctct field table and codec).
//
// Realism knobs in Options add a server-side rate limit (429, 503 or a 403
// "over.qps"), latency with jitter, randomly injected 500/503 failures, and
// dropped connections after a committed write. Two unauthenticated routes
// help tests and benchmarks: GET /_sandbox/stats (request counters as JSON)
// and POST /_sandbox/reset (back to the initial store).
//
// It also implements the bulk Activities resource of docs/BULK.md (form
// POSTs of add, remove, clear and export jobs, their entries and feed, the
// export files), the AtomPub service document and list writes. Jobs are
// stored with the contacts and run by one background goroutine, batch by
// batch, at Config.ActivityRate after Config.ActivityDelay; Close stops
// it, and a sandbox opened on the same file finishes an unfinished job.
//
// A Sandbox is safe for concurrent use by many requests: writes run in
// SQLite transactions serialised by a mutex, and email uniqueness is
// enforced by a UNIQUE constraint.
package sandbox
