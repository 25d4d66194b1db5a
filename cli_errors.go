package main

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"syscall"

	"ctctbulk/ctct"
	"ctctbulk/exporter"
	"ctctbulk/importer"
)

// exitCode maps a command's error to the process exit code: the one place
// where codes are decided, from the errors' types (as cli/cli's Main does).
func exitCode(err error) int {
	var (
		ue      *usageError
		rf      *rowsFailedError
		mapErr  *importer.MappingError
		refused *importer.RefusedError
	)
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue), errors.As(err, &mapErr), errors.As(err, &refused), errors.Is(err, importer.ErrJournalExists),
		errors.Is(err, exporter.ErrUnknownList), errors.Is(err, exporter.ErrStateMismatch), errors.Is(err, exporter.ErrIncrementalBulk):
		return exitUsage
	case errors.Is(err, importer.ErrInterrupted), errors.Is(err, exporter.ErrInterrupted), errors.Is(err, context.Canceled):
		return exitInterrupted
	case errors.Is(err, ctct.ErrBudgetExhausted):
		return exitBudget
	case errors.As(err, &rf):
		return exitRowsFailed
	default:
		return exitFatal
	}
}

// notedError is an error with a note on what was kept or left (a journal,
// an output file), printed after the error in words.
type notedError struct {
	err  error
	note string
}

func (e *notedError) Error() string { return e.err.Error() + " (" + e.note + ")" }
func (e *notedError) Unwrap() error { return e.err }

// errorText is what the user reads for err: what is wrong and what to do,
// in words rather than Go's.
func errorText(err error) string {
	var ne *notedError
	if errors.As(err, &ne) {
		return inWords(ne.err) + " (" + ne.note + ")"
	}
	return inWords(err)
}

// inWords rewrites the errors whose own text speaks Go or HTTP.
func inWords(err error) string {
	var (
		recordErr tls.RecordHeaderError
		certErr   *tls.CertificateVerificationError
		authErr   *authError
	)
	switch {
	case errors.As(err, &authErr):
		return authErr.Error()
	case errors.Is(err, ctct.ErrUnauthorized):
		return "the account rejected the credentials: check CTCT_USERNAME, CTCT_API_KEY and CTCT_PASSWORD"
	case errors.Is(err, importer.ErrInterrupted), errors.Is(err, exporter.ErrInterrupted):
		// The callers' text says what was kept.
		return err.Error()
	case errors.Is(err, context.Canceled):
		return "interrupted"
	case errors.Is(err, importer.ErrNotText):
		return importer.ErrNotText.Error()
	case errors.Is(err, syscall.ECONNREFUSED):
		return "the server refused the connection: check --base-url (or CTCT_BASE_URL) and that the server is running"
	case errors.As(err, &recordErr), strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return "the server does not speak https at that address: check the scheme of --base-url (http:// only for a local sandbox)"
	case errors.As(err, &certErr):
		return "the server's certificate is not valid for this address: check --base-url"
	}
	return err.Error()
}

// netCause is the last, plainest part of a transport error: "connection
// refused", "i/o timeout".
func netCause(err error) string {
	var recordErr tls.RecordHeaderError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.As(err, &recordErr), strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return "the server does not speak https"
	}
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		msg = msg[i+2:]
	}
	return msg
}
