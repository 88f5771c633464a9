// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package config

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/duostream/duostream/duoapi"
	"github.com/duostream/duostream/duosim"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binaryDir != "" {
		os.RemoveAll(binaryDir)
	}
	os.Exit(code)
}

var (
	binaryOnce sync.Once
	binaryDir  string
	binaryPath string
	binaryErr  error
)

// duostreamBinary returns the path of the duostream binary: the one named by
// DUOSTREAM_BINARY, or one built once for the whole test run.
func duostreamBinary(t *testing.T) string {
	t.Helper()
	binaryOnce.Do(func() {
		if binaryPath = os.Getenv("DUOSTREAM_BINARY"); binaryPath != "" {
			return
		}
		if binaryDir, binaryErr = os.MkdirTemp("", "duostream-config-"); binaryErr != nil {
			return
		}
		binaryPath = filepath.Join(binaryDir, "duostream")
		build := exec.Command("go", "build", "-o", binaryPath, "github.com/duostream/duostream/cmd/duostream")
		var out bytes.Buffer
		build.Stdout, build.Stderr = &out, &out
		if err := build.Run(); err != nil {
			binaryErr = fmt.Errorf("go build ./cmd/duostream: %w\n%s", err, out.Bytes())
		}
	})
	require.NoError(t, binaryErr)
	return binaryPath
}

// headerEnv is what the header comment of a pipeline file documents about
// its environment. The header is the file's leading comment. Its
// "Environment:" list has one entry per variable, "#   NAME  what it is",
// continued on more-indented lines; an entry that says "(required)" is
// required, the others are optional. The example command is the header's
// "duostream run" line with the lines continued into it, and its NAME=value
// words must set every required variable.
type headerEnv struct {
	documented map[string]bool // name -> required
	example    []string        // the names the example command sets
}

var (
	envEntry   = regexp.MustCompile(`^#   ([A-Z][A-Z0-9_]*) {2,}(.*)$`)
	envAssign  = regexp.MustCompile(`^([A-Z][A-Z0-9_]*)=`)
	envRef     = regexp.MustCompile(`\$\{([0-9A-Za-z_.]+)(:[^}]*)?\}`)
	bloblEnv   = regexp.MustCompile(`env\("([0-9A-Za-z_]+)"\)(\.or\(throw\()?`)
	commentRef = regexp.MustCompile(`\$\{`)
)

// parseHeaderEnv reads the environment a pipeline file's header documents.
func parseHeaderEnv(t *testing.T, file string, raw []byte) headerEnv {
	t.Helper()
	var header []string
	for line := range strings.Lines(string(raw)) {
		line = strings.TrimRight(line, "\r\n")
		if !strings.HasPrefix(line, "#") {
			break
		}
		header = append(header, line)
	}
	h := headerEnv{documented: map[string]bool{}}
	for i := 0; i < len(header); i++ {
		if !strings.HasPrefix(header[i], "# Environment") {
			continue
		}
		var name string
		for i++; i < len(header) && strings.HasPrefix(header[i], "#   "); i++ {
			if m := envEntry.FindStringSubmatch(header[i]); m != nil {
				name = m[1]
				_, dup := h.documented[name]
				assert.False(t, dup, "%s: %s is documented twice", file, name)
				h.documented[name] = strings.Contains(m[2], "(required)")
				continue
			}
			if strings.Contains(header[i], "(required)") && name != "" {
				h.documented[name] = true
			}
		}
	}
	require.NotEmpty(t, h.documented, "%s: the header has no Environment: list", file)

	run := slices.IndexFunc(header, func(l string) bool { return strings.Contains(l, "duostream run ./config/"+file) })
	require.GreaterOrEqual(t, run, 0, "%s: the header has no example command `duostream run ./config/%s`", file, file)
	first := run
	for first > 0 && strings.HasSuffix(header[first-1], `\`) {
		first--
	}
	for _, line := range header[first : run+1] {
		for word := range strings.FieldsSeq(strings.TrimPrefix(line, "#")) {
			if m := envAssign.FindStringSubmatch(word); m != nil {
				h.example = append(h.example, m[1])
			}
		}
	}
	return h
}

// readsEnv returns the variables a pipeline file reads: name -> whether it
// must be set (a ${NAME} without a default, or a Bloblang env("NAME") that
// throws when it is missing). Like Benthos, it reads comments too.
func readsEnv(raw []byte) map[string]bool {
	reads := map[string]bool{}
	for _, m := range envRef.FindAllStringSubmatch(string(raw), -1) {
		reads[m[1]] = reads[m[1]] || m[2] == ""
	}
	for _, m := range bloblEnv.FindAllStringSubmatch(string(raw), -1) {
		reads[m[1]] = reads[m[1]] || m[2] != ""
	}
	return reads
}

// shippedPipelines returns the pipeline files of config/, without their
// config tests.
func shippedPipelines(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.yaml")
	require.NoError(t, err)
	files = slices.DeleteFunc(files, func(f string) bool { return strings.HasSuffix(f, "_benthos_test.yaml") })
	require.NotEmpty(t, files)
	return files
}

// TestPipelineHeadersDocumentTheirEnvironment checks that the header of
// every pipeline documents exactly the variables the file reads, marks as
// required exactly those without a default, and that its example command
// sets every required one; and that no comment holds a braced variable,
// which Benthos would require although nothing uses it.
func TestPipelineHeadersDocumentTheirEnvironment(t *testing.T) {
	for _, file := range shippedPipelines(t) {
		t.Run(file, func(t *testing.T) {
			raw, err := os.ReadFile(file)
			require.NoError(t, err)
			for i, line := range strings.Split(string(raw), "\n") {
				if strings.HasPrefix(strings.TrimSpace(line), "#") {
					assert.False(t, commentRef.MatchString(line), "%s:%d: a comment holds a braced variable, which Benthos requires like any other: write $NAME\n%s", file, i+1, line)
				}
			}
			h := parseHeaderEnv(t, file, raw)
			reads := readsEnv(raw)
			for name, required := range reads {
				documentedRequired, ok := h.documented[name]
				if !assert.True(t, ok, "%s reads %s, which its header does not document", file, name) {
					continue
				}
				assert.Equal(t, required, documentedRequired, "%s: %s is required (no default) = %v, but the header says required = %v", file, name, required, documentedRequired)
			}
			for name, required := range h.documented {
				_, ok := reads[name]
				assert.True(t, ok, "%s documents %s, which it does not read", file, name)
				if required {
					assert.Contains(t, h.example, name, "%s: the example command does not set the required %s", file, name)
				}
			}
			for _, name := range h.example {
				assert.Contains(t, h.documented, name, "%s: the example command sets %s, which the Environment: list does not document", file, name)
			}
			assert.Contains(t, h.documented, "DUO_BASE_URL", "%s: document DUO_BASE_URL, the way to a proxy or the simulator", file)
		})
	}
}

// pipelineSink is the destination a pipeline delivers to in a test: the
// variables that point the pipeline at it, and how to read back one
// normalized event.
type pipelineSink struct {
	env map[string]string
	// received returns one normalized event the sink holds, or nil while
	// there is none. stdout is what the pipeline wrote to standard output.
	received func(stdout []byte) ([]byte, error)
	// ocsf is set for a sink of OCSF events rather than Panther's
	// normalized ones.
	ocsf bool
}

// pipelineSinks sets up the real destination of each shipped pipeline.
var pipelineSinks = map[string]func(t *testing.T) pipelineSink{
	"duo-to-stdout.yaml": func(*testing.T) pipelineSink {
		return pipelineSink{received: func(stdout []byte) ([]byte, error) {
			return firstEvent(stdout), nil
		}}
	},
	"duo-to-kafka.yaml":     kafkaSink,
	"duo-msp-to-kafka.yaml": kafkaSink,
	"duo-to-http.yaml": func(t *testing.T) pipelineSink {
		sink := &hecSink{token: "env-test-hec-token"}
		srv := httptest.NewServer(sink)
		t.Cleanup(srv.Close)
		return pipelineSink{
			env: map[string]string{
				"HEC_URL":                    srv.URL + "/services/collector/event",
				"HEC_TOKEN":                  sink.token,
				"HEC_BATCH_PERIOD":           "200ms",
				"DUOSTREAM_DEAD_LETTER_FILE": filepath.Join(t.TempDir(), "dead-letter.jsonl"),
			},
			received: func([]byte) ([]byte, error) {
				sink.mu.Lock()
				defer sink.mu.Unlock()
				if len(sink.errs) > 0 {
					return nil, errors.Join(sink.errs...)
				}
				for _, b := range sink.batches {
					if len(b) > 0 {
						return b[0].Event, nil
					}
				}
				return nil, nil
			},
		}
	},
	"duo-to-s3.yaml": func(t *testing.T) pipelineSink {
		srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
		t.Cleanup(srv.Close)
		const bucket, id, secret = "duo-env-test", "AKIDENVTEST", "env-test-secret"
		client := s3.New(s3.Options{
			Region:       "us-east-1",
			BaseEndpoint: aws.String(srv.URL),
			UsePathStyle: true,
			Credentials:  credentials.NewStaticCredentialsProvider(id, secret, ""),
		})
		_, err := client.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(bucket)})
		require.NoError(t, err)
		return pipelineSink{
			env: map[string]string{
				"S3_BUCKET":            bucket,
				"S3_REGION":            "us-east-1",
				"S3_ENDPOINT":          srv.URL,
				"S3_FORCE_PATH_STYLE":  "true",
				"S3_ACCESS_KEY_ID":     id,
				"S3_SECRET_ACCESS_KEY": secret,
			},
			received: func([]byte) ([]byte, error) {
				list, err := client.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("duo/")})
				if err != nil || len(list.Contents) == 0 {
					return nil, err
				}
				obj, err := client.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: list.Contents[0].Key})
				if err != nil {
					return nil, err
				}
				defer obj.Body.Close()
				zr, err := gzip.NewReader(obj.Body)
				if err != nil {
					return nil, err
				}
				body, err := io.ReadAll(zr)
				if err != nil {
					return nil, err
				}
				return firstEvent(body), nil
			},
		}
	},
	"duo-to-security-lake.yaml": func(t *testing.T) pipelineSink {
		srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
		t.Cleanup(srv.Close)
		const lake, dlq, id, secret = "duo-env-lake", "duo-env-dlq", "AKIDENVTEST", "env-test-secret"
		client := s3.New(s3.Options{
			Region:       "us-east-1",
			BaseEndpoint: aws.String(srv.URL),
			UsePathStyle: true,
			Credentials:  credentials.NewStaticCredentialsProvider(id, secret, ""),
		})
		for _, b := range []string{lake, dlq} {
			_, err := client.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(b)})
			require.NoError(t, err)
		}
		return pipelineSink{
			ocsf: true,
			env: map[string]string{
				"SL_BUCKET":            lake,
				"SL_REGION":            "us-east-1",
				"SL_ACCOUNT_ID":        "123456789012",
				"SL_FLUSH_PERIOD":      "1s",
				"DEAD_LETTER_BUCKET":   dlq,
				"S3_ENDPOINT":          srv.URL,
				"S3_FORCE_PATH_STYLE":  "true",
				"S3_ACCESS_KEY_ID":     id,
				"S3_SECRET_ACCESS_KEY": secret,
			},
			received: func([]byte) ([]byte, error) {
				list, err := client.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: aws.String(lake), Prefix: aws.String("ext/")})
				if err != nil || len(list.Contents) == 0 {
					return nil, err
				}
				obj, err := client.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(lake), Key: list.Contents[0].Key})
				if err != nil {
					return nil, err
				}
				defer obj.Body.Close()
				body, err := io.ReadAll(obj.Body)
				if err != nil {
					return nil, err
				}
				rows := parquetRows(t, body)
				if len(rows) == 0 {
					return nil, fmt.Errorf("%s holds no rows", *list.Contents[0].Key)
				}
				return json.Marshal(rows[0])
			},
		}
	},
}

// kafkaSink is the destination of the Kafka pipelines: a cluster with the
// default topic names, created up front as their headers say.
func kafkaSink(t *testing.T) pipelineSink {
	var topics []string
	for _, lt := range duoapi.AllLogTypes {
		topics = append(topics, "duo."+string(lt))
	}
	cluster, err := kfake.NewCluster(kfake.SeedTopics(1, append(topics, "duo.dead_letter")...))
	require.NoError(t, err)
	t.Cleanup(cluster.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.ConsumeTopics(topics...), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	return pipelineSink{
		env: map[string]string{"KAFKA_BROKERS": strings.Join(cluster.ListenAddrs(), ",")},
		received: func([]byte) ([]byte, error) {
			ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
			defer cancel()
			fetches := cl.PollFetches(ctx)
			if recs := fetches.Records(); len(recs) > 0 {
				return recs[0].Value, nil
			}
			var err error
			fetches.EachError(func(_ string, _ int32, e error) {
				if !errors.Is(e, context.DeadlineExceeded) {
					err = e
				}
			})
			return nil, err
		},
	}
}

// firstEvent returns the first line of b that is a normalized event.
func firstEvent(b []byte) []byte {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var ev struct {
			LogType string `json:"p_log_type"`
		}
		if json.Unmarshal(sc.Bytes(), &ev) == nil && ev.LogType != "" {
			return append([]byte(nil), sc.Bytes()...)
		}
	}
	return nil
}

// pipelineFamilies are the prefixes of the variables the pipelines read or
// that could reach their outputs' clients; none of them is inherited from
// the test's own environment.
var pipelineFamilies = []string{"DUO_", "DUOSTREAM_", "KAFKA_", "S3_", "HEC_", "AWS_"}

// processEnv returns the test's own environment without any variable of the
// pipeline families, with HOME in a fresh directory (no shared AWS config),
// plus vars.
func processEnv(t *testing.T, vars map[string]string) []string {
	t.Helper()
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if name == "HOME" || slices.ContainsFunc(pipelineFamilies, func(p string) bool { return strings.HasPrefix(name, p) }) {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "HOME="+t.TempDir())
	for _, k := range keys(vars) {
		env = append(env, k+"="+vars[k])
	}
	return env
}

// syncBuffer is a bytes.Buffer a process can write to while the test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// TestPipelinesRunWithDocumentedEnv runs every shipped pipeline with the
// real binary and only the variables its header documents: the required
// ones, DUO_BASE_URL to reach the simulator, and the optional ones that
// point it at its test destination. `duostream lint` must pass without
// --skip-env-var-check, and `duostream run` must deliver a normalized
// event and exit cleanly on SIGTERM.
func TestPipelinesRunWithDocumentedEnv(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := duostreamBinary(t)
	for i, file := range shippedPipelines(t) {
		t.Run(file, func(t *testing.T) {
			newSink, ok := pipelineSinks[file]
			require.True(t, ok, "no test destination for %s: add one to pipelineSinks", file)
			raw, err := os.ReadFile(file)
			require.NoError(t, err)
			h := parseHeaderEnv(t, file, raw)

			// The MSP pipeline pulls the children of a parent account,
			// the others an account of their own.
			var sim *duosim.Server
			if file == mspPipeline {
				sim = newMSPFixture(t, uint64(100+i)).sim
			} else {
				sim = newFixture(t, uint64(100+i)).sim
			}
			sink := newSink(t)
			vars := map[string]string{
				"DUO_API_HOSTNAME":    sim.APIHost(),
				"DUO_INTEGRATION_KEY": sim.IntegrationKey(),
				"DUO_SECRET_KEY":      sim.SecretKey(),
				"DUO_BASE_URL":        sim.URL,
				"DUOSTREAM_STATE_DIR": t.TempDir(),
				// Port 4195 may be taken; any free loopback port will do.
				"DUOSTREAM_HTTP_ADDRESS":  "127.0.0.1:0",
				"DUO_REQUESTS_PER_MINUTE": "600",
			}
			for k, v := range sink.env {
				vars[k] = v
			}
			for name := range vars {
				assert.Contains(t, h.documented, name, "the test sets %s, which the header of %s does not document", name, file)
			}
			for name, required := range h.documented {
				if required {
					assert.Contains(t, vars, name, "the test does not set %s, which %s requires", name, file)
				}
			}
			if t.Failed() {
				t.FailNow()
			}
			env := processEnv(t, vars)

			lint := exec.CommandContext(t.Context(), bin, "lint", file)
			lint.Env = env
			out, err := lint.CombinedOutput()
			require.NoError(t, err, "duostream lint %s with %v:\n%s", file, keys(vars), out)

			var stdout, stderr syncBuffer
			cmd := exec.Command(bin, "run", file)
			cmd.Env = env
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			require.NoError(t, cmd.Start())
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			stopped := false
			t.Cleanup(func() {
				if !stopped {
					_ = cmd.Process.Kill()
					<-exited
				}
			})
			logs := func() string { return string(stdout.Bytes()) + string(stderr.Bytes()) }

			var event []byte
			deadline := time.Now().Add(60 * time.Second)
			for event == nil {
				select {
				case err := <-exited:
					stopped = true
					t.Fatalf("duostream run %s exited (%v) before delivering:\n%s", file, err, logs())
				default:
				}
				event, err = sink.received(stdout.Bytes())
				require.NoError(t, err, "read the destination of %s", file)
				if event == nil {
					require.True(t, time.Now().Before(deadline), "no normalized event from %s within 60s:\n%s", file, logs())
					time.Sleep(200 * time.Millisecond)
				}
			}
			var ev struct {
				LogType  string `json:"p_log_type"`
				RowID    string `json:"p_row_id"`
				SourceID string `json:"p_source_id"`
				ClassUID int    `json:"class_uid"`
				Metadata struct {
					UID string `json:"uid"`
				} `json:"metadata"`
			}
			require.NoError(t, json.Unmarshal(event, &ev), "event %s", event)
			if sink.ocsf {
				assert.Contains(t, []int{3001, 3002, 3004, 2004}, ev.ClassUID, "event %s", event)
				assert.NotEmpty(t, ev.Metadata.UID, "event %s", event)
			} else {
				assert.Contains(t, []string{"Duo.Authentication", "Duo.Administrator", "Duo.Telephony", "Duo.OfflineEnrollment"}, ev.LogType, "event %s", event)
				assert.NotEmpty(t, ev.RowID, "event %s", event)
			}
			if file == mspPipeline {
				require.NotNil(t, sim.Child(ev.SourceID), "the event of %s names a child of the parent as p_source_id: %s", file, event)
			}

			require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
			select {
			case err := <-exited:
				stopped = true
				assert.NoError(t, err, "duostream run %s exits cleanly on SIGTERM:\n%s", file, logs())
			case <-time.After(30 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
				stopped = true
				t.Fatalf("duostream run %s still running 30s after SIGTERM:\n%s", file, logs())
			}
		})
	}
}
