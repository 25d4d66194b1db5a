// Command ctctbulk moves contacts between CSV files and a Constant Contact
// account through the XML/Atom contacts API, and ships a local emulator of
// that API (the sandbox) to rehearse on.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	os.Exit(runMain(sigs, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}
