// Command ctctbulk moves contacts between CSV files and a Constant Contact
// account through the XML/Atom contacts API, and ships a local emulator of
// that API (the sandbox) to rehearse on.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}
