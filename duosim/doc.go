// Copyright 2026 The duostream authors. Licensed under the MIT licence.

// Package duosim is a simulator of the Duo Admin API log endpoints, for tests
// and for the no-credentials demo.
package duosim
