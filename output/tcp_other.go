// Copyright 2026 The duostream authors. Licensed under the MIT licence.

//go:build !linux

package output

// setTCPUserTimeout does nothing: TCP_USER_TIMEOUT is Linux only.
func setTCPUserTimeout(uintptr, int) error { return nil }
