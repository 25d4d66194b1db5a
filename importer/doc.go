// Package importer puts the rows of CSV files into a Constant Contact
// account, as one pipeline over one run store:
//
//	input(s) ──► read.go ──► plan.go ──┬─► jobs.go ──► reconcile.go ──► verify.go ─┐
//	             (every row   (lists,   │   (bulk        (what each job  (an export │
//	              into the     path,    │    ADD_CONTACTS did, row by    against    │
//	              store)       account, │    jobs)        row)           each row)  │
//	                           a decision                                          ▼
//	                           per row)  └─► contacts.go (the contacts collection) ──► report.go, summary.go
//	                                                                                    (from the store)
//
// The store (store.go) is one SQLite file at the journal's path. It holds
// every input row (its lines, content digest, cells, email), what the plan
// decided for it, its job and its outcome with the reason; the bulk jobs;
// and what the plan learnt of the account (account.go). Nothing else holds
// a row's state: each stage reads the store and writes to it, one
// transaction per change, so that a killed run leaves it consistent and
// --resume reopens it and goes on. A completed run removes it.
//
//   - read.go reads each input once, to its end, before anything is sent: a
//     malformed or invalid row gets its outcome there; a resume compares
//     the input with the store and refuses one whose finished rows changed.
//   - plan.go resolves the lists (lists.go), settles the jobs an
//     interrupted run left, chooses the path and the cheapest way to learn
//     the account (cost.go: export jobs, or lookups of the rows' emails
//     when they are few against the account) and decides every row in
//     file order: settled with
//     no request (unchanged, skipped, failed), in a job, or through the
//     contacts collection. A decision that rests on an earlier row of the
//     same email sent in a job waits for that row's outcome.
//   - jobs.go and contacts.go are the two senders of the same pipeline.
//   - reconcile.go gives each row of an ended job what the server said of
//     it, and leaves uncertain the rows of an answer that does not add up;
//     verify.go checks the rows the jobs applied or left uncertain against
//     what each sent, through an export or lookups (cost.go again).
//   - report.go writes each input's error report and summary.go the
//     summary, both from the store, in file order.
//
// import --dry-run (dryrun.go) is a streaming pass with no store: it reads,
// maps and validates every row and plans the requests.
package importer
