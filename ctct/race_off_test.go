//go:build !race

package ctct_test

// raceEnabled is true when the tests run with the race detector, under
// which the SQLite of the sandbox runs some 20 times slower.
const raceEnabled = false
