// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package output

import "syscall"

// tcpUserTimeout is TCP_USER_TIMEOUT from linux/tcp.h, which the frozen
// syscall package does not name.
const tcpUserTimeout = 0x12

// setTCPUserTimeout sets TCP_USER_TIMEOUT on the socket fd, in milliseconds.
func setTCPUserTimeout(fd uintptr, ms int) error {
	return syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, tcpUserTimeout, ms)
}
