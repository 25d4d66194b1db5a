// Command ctctbulk moves contacts between CSV files and a Constant Contact
// account through the XML/Atom contacts API, and ships a local emulator of
// that API (the sandbox) to rehearse on.
package main

import (
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	// The zones of --quota-day-tz, also where the system has no zoneinfo
	// (a slim container).
	_ "time/tzdata"
)

// softMemoryLimit is the Go heap the runtime keeps to unless GOMEMLIMIT
// says otherwise: a bulk import holds a 20,000-row job while it encodes
// it, and without a limit the collector lets the heap double past that
// before it runs; with it, a million-row import stays in a small, flat
// footprint (see docs/PERFORMANCE.md). It is a soft limit: a heap that
// needs more gets it.
const softMemoryLimit = 48 << 20

func main() {
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(softMemoryLimit)
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	os.Exit(runMain(sigs, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}
