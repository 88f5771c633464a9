// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package output

import (
	"fmt"
	"net"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/redpanda-data/benthos/v4/public/utils/netutil"
)

// tcpField is the spec of a tcp block (Benthos' dialer block, the shape
// Connect uses): how the sockets of a client are dialled and kept alive.
// what says which connections it applies to. Turn the parsed block into a
// dialer with tcpDialerFromParsed.
func tcpField(what string) *service.ConfigField {
	return netutil.DialerConfigSpec().Description("TCP settings of " + what + ".")
}

// tcpDialerFromParsed builds the net.Dialer a parsed tcp block describes.
// field names the block in errors.
func tcpDialerFromParsed(conf *service.ParsedConfig, field string) (*net.Dialer, error) {
	dc, err := netutil.DialerConfigFromParsed(conf)
	if err != nil {
		return nil, fmt.Errorf("field %s: %w", field, err)
	}
	if dc.Timeout < 0 {
		return nil, fmt.Errorf("field %s.connect_timeout: must not be negative, got %v", field, dc.Timeout)
	}
	if dc.TCPUserTimeout < 0 {
		return nil, fmt.Errorf("field %s.tcp_user_timeout: must not be negative, got %v", field, dc.TCPUserTimeout)
	}
	d := &net.Dialer{}
	if err := netutil.DecorateDialer(d, dc); err != nil {
		return nil, fmt.Errorf("field %s: %w", field, err)
	}
	return d, nil
}
