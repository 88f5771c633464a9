// Copyright 2026 The duostream authors. Licensed under the MIT licence.

//go:build reliability

package reliability

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/duostream/duostream/duoapi"
	"github.com/duostream/duostream/duosim"
)

// selfSignedCert returns a certificate for 127.0.0.1 and its PEM encoding.
func selfSignedCert(t testing.TB) (tls.Certificate, []byte) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "duosim"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pemBytes
}

// flakyListener breaks some of the connections it accepts before their TLS
// handshake: closed at once (the "EOF" of a TLS handshake that collectors
// die on), answered with plain text that is not TLS, or left hanging past
// the client's timeout.
type flakyListener struct {
	net.Listener
	mu     sync.Mutex
	rng    *mrand.Rand
	p      float64
	broken [3]atomic.Int64
}

func (l *flakyListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		fail, kind := l.rng.Float64() < l.p, l.rng.IntN(3)
		l.mu.Unlock()
		if !fail {
			return c, nil
		}
		l.broken[kind].Add(1)
		switch kind {
		case 0:
			c.Close()
		case 1:
			c.Write([]byte("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n"))
			c.Close()
		case 2:
			time.AfterFunc(1500*time.Millisecond, func() { c.Close() })
		}
	}
}

// TestTransientTLSErrors serves the simulator over TLS and breaks 40% of
// the connections before or during their handshake. duostream retries each
// as a transient failure and delivers every event exactly once, without
// exiting.
func TestTransientTLSErrors(t *testing.T) {
	sim := startSim(t, duosim.Config{Seed: suiteSeed})
	l := backfill(t, sim, map[duoapi.LogType]int{
		duoapi.Authentication: 12000, duoapi.Telephony: 3000, duoapi.Administrator: 4000, duoapi.OfflineEnrollment: 1000,
	})

	cert, certPEM := selfSignedCert(t)
	dir := t.TempDir()
	caPath := filepath.Join(dir, "ca.pem")
	require.NoError(t, os.WriteFile(caPath, certPEM, 0o600))
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	flaky := &flakyListener{Listener: inner, rng: mrand.New(mrand.NewPCG(suiteSeed, 2)), p: 0.4}
	srv := &http.Server{Handler: sim.Sim, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(tls.NewListener(flaky, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}))
	t.Cleanup(func() { srv.Close() })

	outDir := filepath.Join(dir, "out")
	require.NoError(t, os.MkdirAll(outDir, 0o755))
	p := startDuostream(t, dir, "tls", map[string]any{
		"input": duoInput(sim, map[string]any{
			"base_url":            "https://" + inner.Addr().String(),
			"tls":                 map[string]any{"root_cas_file": caPath},
			"checkpoint_key":      "tls",
			"initial_lookback":    "25h",
			"requests_per_minute": 6000,
			"timeout":             "1s",
			"backoff":             map[string]any{"initial_interval": "50ms", "max_interval": "500ms"},
		}),
		"cache_resources": bboltCache(filepath.Join(dir, "state.db")),
		"output":          fileOutputByType(outDir),
	})
	started := time.Now()
	l.waitDeliveredTo(t, p, outDir, 3*time.Minute, 300*time.Millisecond, "every event delivered through broken TLS connections")
	elapsed := time.Since(started)
	// A request can still be under way (a poll, or a retry of a log type
	// with no events), its connection already counted as broken: wait
	// until every broken connection shows as a failed request and a retry.
	var m metricSet
	var closed, notTLS, hung int64
	var reqs int
	waitFor(t, p, 10*time.Second, 100*time.Millisecond, "every broken connection counted", func() bool {
		closed, notTLS, hung = flaky.broken[0].Load(), flaky.broken[1].Load(), flaky.broken[2].Load()
		reqs = len(sim.Requests())
		var err error
		m, err = p.metrics()
		require.NoError(t, err)
		broken := float64(closed + notTLS + hung)
		failed := m.sum("duo_requests_total", "outcome", "network_error") + m.sum("duo_requests_total", "outcome", "timeout")
		return failed == broken && m.sum("duo_retries_total", "reason", "transient") == broken &&
			float64(reqs) == m.sum("duo_requests_total", "outcome", "200")
	})
	require.False(t, p.exited(), "duostream exited: %v", p.err)
	require.NoError(t, p.stop(30*time.Second), "duostream exits cleanly on SIGTERM")

	got, err := readDelivered(outDir)
	require.NoError(t, err)
	sum := sumTally(l.compare(got))
	assert.Zero(t, sum.lost, "events lost")
	assert.Zero(t, sum.dups, "events duplicated")
	assert.Zero(t, sum.foreign, "events the simulator never held")

	broken := closed + notTLS + hung
	for name, n := range map[string]int64{"closed": closed, "not TLS": notTLS, "hung": hung} {
		assert.Positive(t, n, "the run met no %s handshake", name)
	}
	assert.Equal(t, float64(reqs), m.sum("duo_requests_total", "outcome", "200"), "every request that got through succeeded")
	assert.Equal(t, float64(broken), m.sum("duo_requests_total", "outcome", "network_error")+m.sum("duo_requests_total", "outcome", "timeout"),
		"each broken connection is one failed request")
	assert.Equal(t, float64(broken), m.sum("duo_retries_total", "reason", "transient"), "and one retry")
	figure(t, "%d events delivered over TLS in %s while %d of %d connections broke (%d closed during the handshake, %d answered in plain text, %d hung past the timeout): lost %d, duplicated %d, %.0f transient retries, the process never exited",
		l.total(), elapsed.Round(100*time.Millisecond), broken, int64(reqs)+broken, closed, notTLS, hung, sum.lost, sum.dups, m.sum("duo_retries_total", "reason", "transient"))
}
