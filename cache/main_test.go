// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package cache

import (
	"fmt"
	"os"
	"testing"
)

// TestMain turns the test binary into a helper process when the crash and
// lock tests re-execute it with DUOSTREAM_CACHE_TEST_HELPER set.
func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnvMode); mode != "" {
		if err := runCacheTestHelper(mode, os.Getenv(helperEnvPath)); err != nil {
			fmt.Fprintln(os.Stderr, "cache test helper:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
