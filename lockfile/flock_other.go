//go:build !unix || solaris

package lockfile

import (
	"errors"
	"os"
)

// tryLock is not available on this system: without an advisory lock two
// runs cannot be told apart, so the lock is refused rather than faked.
func tryLock(*os.File) (bool, error) {
	return false, errors.New("file locks are not supported on this system")
}
