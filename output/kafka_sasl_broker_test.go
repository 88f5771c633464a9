// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package output

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// saslBroker is a Kafka broker of the tests' own that speaks just enough of
// the protocol for a client to authenticate and ping: ApiVersions,
// SaslHandshake, SaslAuthenticate and an empty Metadata. It accepts any
// credentials for the one mechanism it offers and records the SASL bytes
// each authentication sent, for the mechanisms kfake does not speak.
type saslBroker struct {
	t         *testing.T
	ln        net.Listener
	mechanism string
	// reply is the server's answer to each SaslAuthenticate.
	reply []byte

	mu         sync.Mutex
	handshakes []string
	auths      [][]byte
	gotAuth    chan struct{}
	authOnce   sync.Once
}

// newSASLBroker starts a saslBroker on 127.0.0.1 offering mechanism and
// answering each authentication with reply.
func newSASLBroker(t *testing.T, mechanism string, reply []byte) *saslBroker {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	b := &saslBroker{t: t, ln: ln, mechanism: mechanism, reply: reply, gotAuth: make(chan struct{})}
	var wg sync.WaitGroup
	var conns sync.Map
	t.Cleanup(func() {
		_ = ln.Close()
		conns.Range(func(c, _ any) bool { _ = c.(net.Conn).Close(); return true })
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Store(c, true)
			wg.Go(func() { b.serve(c) })
		}
	})
	return b
}

func (b *saslBroker) addr() string { return b.ln.Addr().String() }

// recorded returns the mechanisms asked for and the SASL bytes sent so far.
func (b *saslBroker) recorded() (handshakes []string, auths [][]byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.handshakes...), append([][]byte(nil), b.auths...)
}

// serve answers the requests of one connection until it closes.
func (b *saslBroker) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	for {
		var size int32
		if err := binary.Read(r, binary.BigEndian, &size); err != nil {
			return
		}
		if size < 10 || size > 1<<20 {
			b.t.Errorf("saslBroker: request size %d", size)
			return
		}
		buf := make([]byte, size)
		if _, err := io.ReadFull(r, buf); err != nil {
			return
		}
		resp, err := b.handle(buf)
		if err != nil {
			b.t.Errorf("saslBroker: %v", err)
			return
		}
		if _, err := c.Write(resp); err != nil {
			return
		}
	}
}

// handle decodes one request (header and body) and encodes its response,
// length prefix included.
func (b *saslBroker) handle(buf []byte) ([]byte, error) {
	key := int16(binary.BigEndian.Uint16(buf[0:]))
	version := int16(binary.BigEndian.Uint16(buf[2:]))
	correlation := binary.BigEndian.Uint32(buf[4:])
	clientIDLen := int(int16(binary.BigEndian.Uint16(buf[8:])))
	body := buf[10+max(clientIDLen, 0):]

	req := kmsg.RequestForKey(key)
	if req == nil {
		return nil, fmt.Errorf("unknown request key %d", key)
	}
	req.SetVersion(version)
	if req.IsFlexible() && key != kmsg.ControlledShutdown.Int16() {
		// The v2 request header ends with tagged fields: skip them.
		var err error
		if body, err = skipTags(body); err != nil {
			return nil, err
		}
	}
	if err := req.ReadFrom(body); err != nil {
		return nil, fmt.Errorf("decode %s v%d: %w", kmsg.NameForKey(key), version, err)
	}

	var resp kmsg.Response
	switch req := req.(type) {
	case *kmsg.ApiVersionsRequest:
		r := kmsg.NewPtrApiVersionsResponse()
		for _, k := range []kmsg.Request{
			kmsg.NewPtrApiVersionsRequest(),
			kmsg.NewPtrSASLHandshakeRequest(),
			kmsg.NewPtrSASLAuthenticateRequest(),
			kmsg.NewPtrMetadataRequest(),
		} {
			r.ApiKeys = append(r.ApiKeys, kmsg.ApiVersionsResponseApiKey{ApiKey: k.Key(), MinVersion: 0, MaxVersion: k.MaxVersion()})
		}
		resp = r
	case *kmsg.SASLHandshakeRequest:
		b.mu.Lock()
		b.handshakes = append(b.handshakes, req.Mechanism)
		b.mu.Unlock()
		r := kmsg.NewPtrSASLHandshakeResponse()
		r.SupportedMechanisms = []string{b.mechanism}
		if req.Mechanism != b.mechanism {
			r.ErrorCode = 33 // UNSUPPORTED_SASL_MECHANISM
		}
		resp = r
	case *kmsg.SASLAuthenticateRequest:
		b.mu.Lock()
		b.auths = append(b.auths, append([]byte(nil), req.SASLAuthBytes...))
		b.mu.Unlock()
		b.authOnce.Do(func() { close(b.gotAuth) })
		r := kmsg.NewPtrSASLAuthenticateResponse()
		r.SASLAuthBytes = b.reply
		resp = r
	case *kmsg.MetadataRequest:
		host, portStr, _ := net.SplitHostPort(b.addr())
		port, _ := strconv.Atoi(portStr)
		r := kmsg.NewPtrMetadataResponse()
		r.Brokers = []kmsg.MetadataResponseBroker{{NodeID: 0, Host: host, Port: int32(port)}}
		r.ControllerID = 0
		resp = r
	default:
		return nil, fmt.Errorf("unexpected %s request", kmsg.NameForKey(key))
	}
	resp.SetVersion(version)

	out := make([]byte, 4, 64)
	out = binary.BigEndian.AppendUint32(out, correlation)
	// Flexible responses have a tagged-field header, except ApiVersions,
	// whose response header stays v0 so old clients can read it.
	if resp.IsFlexible() && key != kmsg.ApiVersions.Int16() {
		out = append(out, 0)
	}
	out = resp.AppendTo(out)
	binary.BigEndian.PutUint32(out, uint32(len(out)-4))
	return out, nil
}

// skipTags skips a tagged-field section at the start of b.
func skipTags(b []byte) ([]byte, error) {
	n, used := binary.Uvarint(b)
	if used <= 0 {
		return nil, errors.New("bad tag count")
	}
	b = b[used:]
	for range n {
		if _, used = binary.Uvarint(b); used <= 0 {
			return nil, errors.New("bad tag key")
		}
		b = b[used:]
		size, used := binary.Uvarint(b)
		if used <= 0 || uint64(len(b)-used) < size {
			return nil, errors.New("bad tag size")
		}
		b = b[used+int(size):]
	}
	return b, nil
}
