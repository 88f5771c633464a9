// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package output

import (
	"fmt"
	"net"
	"syscall"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
)

const (
	tcpFieldConnectTimeout    = "connect_timeout"
	tcpFieldKeepAlive         = "keep_alive"
	tcpFieldKeepAliveIdle     = "idle"
	tcpFieldKeepAliveInterval = "interval"
	tcpFieldKeepAliveCount    = "count"
	tcpFieldUserTimeout       = "tcp_user_timeout"
)

// tcpField is the spec of a tcp block: how the sockets of a client are
// dialled and kept alive. Use it wherever a Connect component has one, and
// turn the parsed block into a dialer with tcpDialerFromParsed.
func tcpField(name, what string) *service.ConfigField {
	return service.NewObjectField(name,
		service.NewDurationField(tcpFieldConnectTimeout).
			Description("How long opening a connection may take. `0s` sets no limit of its own: the dial then ends only with the request that caused it.").
			Default("0s"),
		service.NewObjectField(tcpFieldKeepAlive,
			service.NewDurationField(tcpFieldKeepAliveIdle).
				Description("How long a connection must be idle before the first keep-alive probe is sent.").
				Default("15s"),
			service.NewDurationField(tcpFieldKeepAliveInterval).
				Description("The time between keep-alive probes once they started.").
				Default("15s"),
			service.NewIntField(tcpFieldKeepAliveCount).
				Description("How many unanswered probes close the connection.").
				Default(9),
		).
			Description("TCP keep-alive probes, which keep idle connections open through NAT gateways and load balancers and detect dead peers."),
		service.NewDurationField(tcpFieldUserTimeout).
			Description("Linux only (ignored elsewhere): how long sent data may stay unacknowledged before the kernel closes the connection (`TCP_USER_TIMEOUT`). `0s` keeps the system default.").
			Default("0s"),
	).
		Description("Socket settings for " + what + ".").
		Advanced()
}

// tcpDialerFromParsed builds the net.Dialer a parsed tcp block describes.
// field names the block in errors.
func tcpDialerFromParsed(conf *service.ParsedConfig, field string) (*net.Dialer, error) {
	connectTimeout, err := conf.FieldDuration(tcpFieldConnectTimeout)
	if err != nil {
		return nil, err
	}
	idle, err := conf.FieldDuration(tcpFieldKeepAlive, tcpFieldKeepAliveIdle)
	if err != nil {
		return nil, err
	}
	interval, err := conf.FieldDuration(tcpFieldKeepAlive, tcpFieldKeepAliveInterval)
	if err != nil {
		return nil, err
	}
	count, err := conf.FieldInt(tcpFieldKeepAlive, tcpFieldKeepAliveCount)
	if err != nil {
		return nil, err
	}
	userTimeout, err := conf.FieldDuration(tcpFieldUserTimeout)
	if err != nil {
		return nil, err
	}
	for name, d := range map[string]time.Duration{
		tcpFieldConnectTimeout:                              connectTimeout,
		tcpFieldKeepAlive + "." + tcpFieldKeepAliveIdle:     idle,
		tcpFieldKeepAlive + "." + tcpFieldKeepAliveInterval: interval,
		tcpFieldUserTimeout:                                 userTimeout,
	} {
		if d < 0 {
			return nil, fmt.Errorf("field %s.%s: must not be negative, got %v", field, name, d)
		}
	}
	if count < 0 {
		return nil, fmt.Errorf("field %s.%s.%s: must not be negative, got %d", field, tcpFieldKeepAlive, tcpFieldKeepAliveCount, count)
	}
	d := &net.Dialer{
		Timeout: connectTimeout,
		KeepAliveConfig: net.KeepAliveConfig{
			Enable:   true,
			Idle:     idle,
			Interval: interval,
			Count:    count,
		},
	}
	if userTimeout > 0 {
		ms := int(userTimeout / time.Millisecond)
		d.Control = func(_, _ string, c syscall.RawConn) error {
			var sockErr error
			if err := c.Control(func(fd uintptr) { sockErr = setTCPUserTimeout(fd, ms) }); err != nil {
				return err
			}
			return sockErr
		}
	}
	return d, nil
}
