// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package duoapi

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pythonSigner signs requests with duo_client.client.sign, Duo's official
// Python implementation: one JSON request per input line, one Authorization
// header per output line.
const pythonSigner = `
import hashlib, json, sys
from duo_client import client
for line in sys.stdin:
    r = json.loads(line)
    digest = hashlib.sha1 if r["sha1"] else hashlib.sha512
    print(client.sign(r["ikey"], r["skey"], r["method"], r["host"], r["path"], r["date"], 2, r["params"], digestmod=digest))
`

// TestCrossCheckPythonClient sends real requests through Client, captures
// what reaches the server, and checks that Duo's Python client computes the
// very same Authorization header for the captured date and parameters.
func TestCrossCheckPythonClient(t *testing.T) {
	py := os.Getenv("DUOSTREAM_TEST_PYTHON")
	if py == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("DUOSTREAM_TEST_PYTHON is not set: .ci/services/python-duo-client.sh must run first")
		}
		t.Skip("DUOSTREAM_TEST_PYTHON is not set (run .ci/services/python-duo-client.sh)")
	}
	requests := []struct {
		path   string
		params url.Values
	}{
		{PathAuthenticationV2, url.Values{"mintime": {"1532951960000"}, "maxtime": {"1532951965000"}, "limit": {"1000"}, "sort": {"ts:asc"}}},
		{PathAuthenticationV2, url.Values{"mintime": {"1532951960000"}, "maxtime": {"1532951965000"}, "limit": {"1000"}, "sort": {"ts:asc"}, "next_offset": {"1532951920000,b40ba235-0b33-23c8-bc23-a31aa0231db4"}}},
		{PathTelephonyV2, url.Values{"mintime": {"1"}, "maxtime": {"2000"}, "next_offset": {"1666714065304,5bf1a860-fe39-49e3-be29-217659663a74"}}},
		{PathAdministratorV1, url.Values{"mintime": {"1346172815"}}},
		{PathOfflineEnrollmentV1, url.Values{}},
		{"/admin/v1/users", url.Values{"username": {"H ell?o"}, "realname": {"Zoë O'Brien + co/~*"}, "tag": {"b", "a", "a b"}}},
	}
	type captured struct{ date, auth, rawQuery, path string }
	var got []captured
	srv := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, captured{r.Header.Get("Date"), r.Header.Get("Authorization"), r.URL.RawQuery, r.URL.Path})
		reply(200, `{"stat":"OK","response":[]}`)(w, r)
	}), nil)
	sha1Client := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, captured{r.Header.Get("Date"), r.Header.Get("Authorization"), r.URL.RawQuery, r.URL.Path})
		reply(200, `{"stat":"OK","response":[]}`)(w, r)
	}), func(c *ClientConfig) { c.SignatureVersion = SignatureV2SHA1 })

	var input strings.Builder
	for i, c := range []*Client{srv, sha1Client} {
		for _, r := range requests {
			_, err := c.Get(t.Context(), r.path, r.params)
			require.NoError(t, err)
			last := got[len(got)-1]
			// Hand Python the parameters as the server received them.
			received, err := url.ParseQuery(last.rawQuery)
			require.NoError(t, err)
			line, err := json.Marshal(map[string]any{
				"ikey": testIKey, "skey": testSKey, "method": "GET", "host": testHost,
				"path": last.path, "date": last.date, "params": received, "sha1": i == 1,
			})
			require.NoError(t, err)
			input.Write(line)
			input.WriteByte('\n')
		}
	}
	cmd := exec.CommandContext(t.Context(), py, "-c", pythonSigner)
	cmd.Stdin = strings.NewReader(input.String())
	out, err := cmd.Output()
	require.NoError(t, err, "python signer: %s", exitStderr(err))
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	require.Len(t, lines, len(got))
	for i, want := range lines {
		assert.Equal(t, want, got[i].auth, "request %d (%s?%s)", i, got[i].path, got[i].rawQuery)
	}
}

func exitStderr(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}
