// Copyright 2026 The duostream authors. Licensed under the MIT licence.

//go:build reliability

package reliability

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/duostream/duostream/duoapi"
	"github.com/duostream/duostream/duosim"
	"github.com/duostream/duostream/processor"
)

// Settings of TestS3ReplaysOverwrite.
const (
	s3RefuseFor   = 8 * time.Second // scenario A: 403s on the administrator prefix
	s3Timeout     = 2 * time.Second // S3_TIMEOUT
	s3LateBy      = 3 * time.Second // scenario B: how long the late answer waits
	s3V1PageSize  = 100
	s3ShippedFile = "../config/duo-to-s3.yaml"
)

var s3Backfill = map[duoapi.LogType]int{
	duoapi.Authentication:    5000,
	duoapi.Administrator:     1000,
	duoapi.Telephony:         1000,
	duoapi.OfflineEnrollment: 200,
}

// s3Target is the S3 server behind the fault proxy: the versitygw gateway
// CI starts (.ci/services/versitygw.sh prints its DUOSTREAM_TEST_S3_*
// variables), or an in-process gofakes3 server.
type s3Target struct {
	endpoint, accessKey, secretKey, bucket string
	client                                 *s3.Client
	kind                                   string
}

func newS3Target(t *testing.T) *s3Target {
	t.Helper()
	st := &s3Target{
		endpoint:  os.Getenv("DUOSTREAM_TEST_S3_ENDPOINT"),
		accessKey: os.Getenv("DUOSTREAM_TEST_S3_ACCESS_KEY"),
		secretKey: os.Getenv("DUOSTREAM_TEST_S3_SECRET_KEY"),
		kind:      "versitygw",
	}
	if st.endpoint == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("DUOSTREAM_TEST_S3_ENDPOINT is not set: CI must start the S3 gateway with .ci/services/versitygw.sh")
		}
		srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
		t.Cleanup(srv.Close)
		st.endpoint, st.accessKey, st.secretKey, st.kind = srv.URL, "AKIDRELIABILITY", "reliability-s3-secret", "gofakes3"
	}
	st.client = s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(st.endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(st.accessKey, st.secretKey, ""),
	})
	st.bucket = "duostream-rel-" + strings.ToLower(rand.Text()[:10])
	_, err := st.client.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(st.bucket)})
	var owned *s3types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		require.NoError(t, err, "create bucket %s", st.bucket)
	}
	return st
}

// s3Proxy is a reverse proxy on 127.0.0.1 in front of the S3 server that
// records every PutObject and injects the faults of a scenario.
type s3Proxy struct {
	url    string
	bucket string

	refusing  atomic.Bool // scenario A: 403 for PUTs under refusePrefix
	refusePfx string
	refused   atomic.Int64

	lateMin  int64 // scenario B: the first PUT at least this large answers late
	lateOnce sync.Once
	lateKey  atomic.Value // string

	mu   sync.Mutex
	puts map[string]int
}

func newS3Proxy(t *testing.T, target *s3Target) *s3Proxy {
	t.Helper()
	u, err := url.Parse(target.endpoint)
	require.NoError(t, err)
	rp := httputil.NewSingleHostReverseProxy(u)
	p := &s3Proxy{bucket: target.bucket, puts: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The Host header stays the proxy's: the client signed it.
		key, isPut := strings.CutPrefix(r.URL.Path, "/"+p.bucket+"/")
		isPut = isPut && r.Method == http.MethodPut && (r.URL.RawQuery == "" || r.URL.Query().Get("x-id") == "PutObject")
		if !isPut {
			rp.ServeHTTP(w, r)
			return
		}
		p.mu.Lock()
		p.puts[key]++
		p.mu.Unlock()
		if p.refusing.Load() && strings.HasPrefix(key, p.refusePfx) {
			p.refused.Add(1)
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied (injected by the reliability test)</Message></Error>`)
			return
		}
		late := false
		if p.lateMin > 0 && r.ContentLength >= p.lateMin {
			p.lateOnce.Do(func() { late = true; p.lateKey.Store(key) })
		}
		if !late {
			rp.ServeHTTP(w, r)
			return
		}
		// Let the store keep the object, then answer after the timeout.
		rec := httptest.NewRecorder()
		rp.ServeHTTP(rec, r)
		select {
		case <-time.After(s3LateBy):
		case <-r.Context().Done():
			return
		}
		maps.Copy(w.Header(), rec.Header())
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	t.Cleanup(srv.Close)
	p.url = srv.URL
	return p
}

func (p *s3Proxy) putCounts() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.puts)
}

// s3Ledger is what the bucket must hold: every event the simulator holds,
// as duo_normalize writes it, without the fields that change on every
// normalization (p_row_id, p_parse_time). That form is the identity: the
// normalized events drop the telephony_id and change the bytes the ledger's
// content hash is taken from.
type s3Ledger struct {
	want  map[string]counts // Panther log type -> normalized identities
	total int
}

func newS3Ledger(t *testing.T, sim *duosim.Server) *s3Ledger {
	t.Helper()
	conf, err := processor.DuoNormalizeSpec().ParseYAML("{}", nil)
	require.NoError(t, err)
	norm, err := processor.NewDuoNormalize(conf, service.MockResources())
	require.NoError(t, err)
	l := &s3Ledger{want: map[string]counts{}}
	for _, lt := range duoapi.AllLogTypes {
		name := lt.SchemaName()
		l.want[name] = counts{}
		evs := sim.Events(lt, time.Unix(0, 0), time.Now().Add(time.Hour))
		batch := make(service.MessageBatch, len(evs))
		for i, ev := range evs {
			batch[i] = service.NewMessage(ev.Body)
			batch[i].MetaSetMut("duo_log_type", name)
		}
		out, err := norm.ProcessBatch(t.Context(), batch)
		require.NoError(t, err)
		for _, m := range out[0] {
			require.NoError(t, m.GetError(), "a generated %s event fails normalization", name)
			b, err := m.AsBytes()
			require.NoError(t, err)
			id, err := normalizedIdentity(b)
			require.NoError(t, err)
			l.want[name][id]++
			l.total++
		}
	}
	return l
}

// normalizedIdentity is a normalized event without p_row_id and
// p_parse_time, with sorted keys.
func normalizedIdentity(raw []byte) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return "", fmt.Errorf("not a JSON object: %.200s", raw)
	}
	delete(m, "p_row_id")
	delete(m, "p_parse_time")
	b, err := json.Marshal(m)
	return string(b), err
}

// bucketContents is what the bucket holds, read back object by object.
type bucketContents struct {
	objects int
	events  map[string]counts // Panther log type -> identities
	dead    int
}

func readBucket(t *testing.T, st *s3Target) (bucketContents, error) {
	got := bucketContents{events: map[string]counts{}}
	p := s3.NewListObjectsV2Paginator(st.client, &s3.ListObjectsV2Input{Bucket: aws.String(st.bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		if err != nil {
			return got, err
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			got.objects++
			lines, err := gunzipObject(t, st, key)
			if err != nil {
				return got, err
			}
			if strings.HasPrefix(key, "dead-letter/") {
				got.dead += len(lines)
				continue
			}
			parts := strings.Split(key, "/")
			if len(parts) < 3 || parts[0] != "duo" {
				return got, fmt.Errorf("object %s is outside duo/ and dead-letter/", key)
			}
			lt := parts[1]
			if got.events[lt] == nil {
				got.events[lt] = counts{}
			}
			for _, line := range lines {
				id, err := normalizedIdentity(line)
				if err != nil {
					return got, fmt.Errorf("object %s: %w", key, err)
				}
				got.events[lt][id]++
			}
		}
	}
	return got, nil
}

func gunzipObject(t *testing.T, st *s3Target, key string) ([][]byte, error) {
	resp, err := st.client.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(st.bucket), Key: aws.String(key)})
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	defer resp.Body.Close()
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("object %s is not gzip: %w", key, err)
	}
	var lines [][]byte
	sc := bufio.NewScanner(zr)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		lines = append(lines, append([]byte(nil), sc.Bytes()...))
	}
	return lines, sc.Err()
}

// compare returns the events lost and duplicated, and those the simulator
// never held.
func (l *s3Ledger) compare(got bucketContents) (lost, dups, foreign int) {
	for lt, want := range l.want {
		for id, n := range want {
			lost += max(0, n-got.events[lt][id])
			dups += max(0, got.events[lt][id]-n)
		}
	}
	for lt, ids := range got.events {
		for id, n := range ids {
			if l.want[lt][id] == 0 {
				foreign += n
			}
		}
	}
	return lost, dups, foreign
}

// startShippedS3 runs `duostream run` on the shipped config/duo-to-s3.yaml
// with exactly the variables its header documents (and PATH and HOME), so
// that nothing else of the test's environment reaches it.
func startShippedS3(t *testing.T, dir string, sim *duosim.Server, proxy *s3Proxy, st *s3Target) *proc {
	t.Helper()
	addr := freeAddr(t)
	env := map[string]string{
		"DUO_API_HOSTNAME":        sim.APIHost(),
		"DUO_INTEGRATION_KEY":     sim.IntegrationKey(),
		"DUO_SECRET_KEY":          testSecret,
		"DUO_BASE_URL":            sim.URL,
		"DUO_INITIAL_LOOKBACK":    "25h",
		"DUO_POLL_INTERVAL":       "1s",
		"DUO_REQUESTS_PER_MINUTE": "6000",
		"DUOSTREAM_STATE_DIR":     dir,
		"DUOSTREAM_HTTP_ADDRESS":  addr,
		"DUOSTREAM_LOG_LEVEL":     "info",
		"S3_BUCKET":               st.bucket,
		"S3_REGION":               "us-east-1",
		"S3_ENDPOINT":             proxy.url,
		"S3_FORCE_PATH_STYLE":     "true",
		"S3_ACCESS_KEY_ID":        st.accessKey,
		"S3_SECRET_ACCESS_KEY":    st.secretKey,
		"S3_TIMEOUT":              s3Timeout.String(),
	}
	file, err := filepath.Abs(s3ShippedFile)
	require.NoError(t, err)
	cmd := exec.Command(binary, "run", file)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir,
		// Keep the AWS SDK off the machine's own configuration.
		"AWS_CONFIG_FILE=" + filepath.Join(dir, "aws-config"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "aws-credentials"), "AWS_EC2_METADATA_DISABLED=true"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return launch(t, dir, "duo-to-s3", addr, cmd)
}

// TestS3ReplaysOverwrite runs the shipped config/duo-to-s3.yaml against the
// simulator (a backfill of all four log types) and an S3 server behind a
// fault-injecting proxy, and reads the whole bucket back: every event
// exactly once, no dead letters. Scenario A refuses (403) every PUT under
// the administrator prefix for 8 s; scenario B lets S3 store the first
// large object and answers only after the output's timeout, so the retry
// writes an object that is already there.
func TestS3ReplaysOverwrite(t *testing.T) {
	for _, sc := range []string{"refused prefix", "late answer"} {
		t.Run(sc, func(t *testing.T) {
			sim := startSim(t, duosim.Config{Seed: suiteSeed, V1PageSize: s3V1PageSize})
			now := time.Now()
			for lt, n := range s3Backfill {
				require.NoError(t, sim.Generate(lt, n, now.Add(-24*time.Hour), now.Add(-5*time.Minute)))
			}
			l := newS3Ledger(t, sim)
			st := newS3Target(t)
			proxy := newS3Proxy(t, st)
			switch sc {
			case "refused prefix":
				proxy.refusePfx = "duo/" + duoapi.Administrator.SchemaName() + "/"
				proxy.refusing.Store(true)
				time.AfterFunc(s3RefuseFor, func() { proxy.refusing.Store(false) })
			case "late answer":
				// An authentication page of 1000 events is about 100 kB
				// compressed; nothing else comes near.
				proxy.lateMin = 50_000
			}

			dir := t.TempDir()
			started := time.Now()
			p := startShippedS3(t, dir, sim, proxy, st)
			var got bucketContents
			waitFor(t, p, 3*time.Minute, 500*time.Millisecond, "every event in the bucket", func() bool {
				var err error
				got, err = readBucket(t, st)
				require.NoError(t, err)
				lost, _, _ := l.compare(got)
				return lost == 0
			})
			elapsed := time.Since(started)
			// Let retries under way finish before the final count.
			time.Sleep(2 * s3Timeout)
			require.NoError(t, p.stop(30*time.Second), "duostream exits cleanly on SIGTERM")
			got, err := readBucket(t, st)
			require.NoError(t, err)
			lost, dups, foreign := l.compare(got)
			assert.Zero(t, lost, "events lost")
			assert.Zero(t, dups, "events duplicated: a retried object overwrites its key")
			assert.Zero(t, foreign, "events the simulator never held")
			assert.Zero(t, got.dead, "dead letters: every generated event normalizes")

			puts := proxy.putCounts()
			totalPuts, rewritten := 0, 0
			for _, n := range puts {
				totalPuts += n
				if n > 1 {
					rewritten++
				}
			}
			assert.Equal(t, got.objects, len(puts), "every key written is in the bucket once")
			logs := p.logs()
			switch sc {
			case "refused prefix":
				require.Positive(t, proxy.refused.Load(), "the proxy refused administrator objects")
				assert.Contains(t, logs, "AccessDenied", "the refusals are logged")
				assert.Contains(t, logs, "bucket policy", "the log says what to check")
				for key, n := range puts {
					if n > 1 {
						assert.True(t, strings.HasPrefix(key, proxy.refusePfx), "%s was written %d times but never refused", key, n)
					}
				}
				figure(t, "%s, 403 on every PUT under %s for %s: %d PUTs refused; %d of %d events in %d objects in %.1f s; lost %d, duplicates %d, dead letters %d; %d objects rewritten at the same key, all administrator, %d PUTs in all",
					st.kind, proxy.refusePfx, s3RefuseFor, proxy.refused.Load(), l.total-lost, l.total, got.objects, elapsed.Seconds(), lost, dups, got.dead, rewritten, totalPuts)
			case "late answer":
				key, _ := proxy.lateKey.Load().(string)
				require.NotEmpty(t, key, "a large object was answered late")
				assert.Equal(t, 2, puts[key], "the late object was written twice, at one key")
				assert.Contains(t, logs, "may have kept the object", "the timeout is logged with what it means")
				for k, n := range puts {
					if k != key {
						assert.Equal(t, 1, n, "%s was written %d times", k, n)
					}
				}
				figure(t, "%s, the first object of 50 kB or more (%s) stored, then answered %s after the %s timeout: written %d times at one key; %d of %d events in %d objects in %.1f s; lost %d, duplicates %d, dead letters %d; %d PUTs in all",
					st.kind, key, s3LateBy, s3Timeout, puts[key], l.total-lost, l.total, got.objects, elapsed.Seconds(), lost, dups, got.dead, totalPuts)
			}
		})
	}
}
