// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package processor

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/duostream/duostream/duoapi"
	"github.com/duostream/duostream/duosim"
	"github.com/duostream/duostream/ocsf"
)

var ocsfSchema = sync.OnceValues(func() (*ocsf.Schema, error) {
	return ocsf.LoadSchema("../ocsf/testdata/schema-1.3.0.json")
})

func newTestOCSF(t testing.TB, yaml string) *duoOCSF {
	t.Helper()
	conf, err := duoOCSFSpec().ParseYAML(yaml, nil)
	require.NoError(t, err)
	p, err := newDuoOCSF(conf, service.MockResources())
	require.NoError(t, err)
	return p
}

// runOCSF runs messages through p and returns them.
func runOCSF(t testing.TB, p *duoOCSF, msgs ...*service.Message) service.MessageBatch {
	t.Helper()
	batches, err := p.ProcessBatch(t.Context(), service.MessageBatch(msgs))
	require.NoError(t, err)
	require.Len(t, batches, 1)
	require.Len(t, batches[0], len(msgs))
	return batches[0]
}

func duoMessage(logType, body string) *service.Message {
	m := service.NewMessage([]byte(body))
	if logType != "" {
		m.MetaSetMut("duo_log_type", logType)
	}
	return m
}

// requireOCSF checks that m holds a valid OCSF event of class and returns
// it.
func requireOCSF(t testing.TB, m *service.Message, class int) map[string]any {
	t.Helper()
	require.NoError(t, m.GetError())
	b, err := m.AsBytes()
	require.NoError(t, err)
	var ev map[string]any
	require.NoError(t, json.Unmarshal(b, &ev), "%s", b)
	s, err := ocsfSchema()
	require.NoError(t, err)
	require.Empty(t, s.Validate(ev), "%s", b)
	got, ok := m.MetaGet(MetaOCSFClassUID)
	require.True(t, ok, "ocsf_class_uid is set")
	assert.Equal(t, fmt.Sprint(class), got)
	assert.EqualValues(t, class, ev["class_uid"])
	_, unmapped := m.MetaGet(MetaOCSFUnmapped)
	assert.False(t, unmapped)
	return ev
}

const (
	ocsfAuthEvent  = `{"access_device":{"ip":"192.0.2.10:5678","location":{"city":"Berlin","country":"Germany"}},"application":{"key":"DIAPP","name":"VPN"},"event_type":"authentication","factor":"duo_push","isotimestamp":"2026-05-30T12:01:09.844137+00:00","reason":"user_marked_fraud","result":"fraud","timestamp":1780142469,"txid":"e28aee72-2f98-4065-8274-8b5c8a13b9f1","user":{"key":"DUKEY","name":"jdoe"}}`
	ocsfAdminEvent = `{"action":"user_create","description":"{\"email\": \"jdoe@example.com\"}","isotimestamp":"2026-05-30T12:00:38+00:00","object":"jdoe","timestamp":1780142438,"username":"jane.admin"}`
	ocsfTelephony  = `{"context":"authentication","credits":3,"phone":"+15125550100","telephony_id":"63b222b9-0106-448d-b13f-ec7e5b9bd1c2","ts":"2026-05-30T12:00:33.307642+00:00","txid":"2e7c02bc-9673-4cd1-aa0a-a84e570c2733","type":"phone"}`
)

// TestDuoOCSFProcess checks mapped, passed-through and refused events in
// one batch: each message keeps its place, a refused one its content.
func TestDuoOCSFProcess(t *testing.T) {
	p := newTestOCSF(t, `{}`)
	auth := duoMessage("Duo.Authentication", ocsfAuthEvent)
	auth.MetaSetMut("duo_api_hostname", "api-1a2b3c4d.duosecurity.com")
	tests := []struct {
		name    string
		msg     *service.Message
		class   int    // 0: not mapped
		wantErr string // "" when no error
	}{
		{"authentication", auth, 3002, ""},
		{"administrator", duoMessage("Duo.Administrator", ocsfAdminEvent), 3001, ""},
		{"api name", duoMessage("administrator", ocsfAdminEvent), 3001, ""},
		{"telephony", duoMessage("Duo.Telephony", ocsfTelephony), 0, ""},
		{"not json", duoMessage("Duo.Authentication", `not json`), 0, `Duo.Authentication: not a JSON object: invalid character`},
		{"json array", duoMessage("Duo.Authentication", `[1,2]`), 0, `Duo.Authentication: not a JSON object: an array`},
		{"json null", duoMessage("Duo.Authentication", `null`), 0, `Duo.Authentication: not a JSON object: null`},
		{"missing user", duoMessage("Duo.Authentication", `{"timestamp":1780142469,"application":{"name":"VPN"}}`), 0, `Duo.Authentication: field "user.name": missing`},
		{"no log type", duoMessage("", ocsfAuthEvent), 0, `no Duo log type: log_type is empty`},
		{"unknown log type", duoMessage("Okta.SystemLog", ocsfAuthEvent), 0, `"Okta.SystemLog" is no Duo log type`},
	}
	msgs := make([]*service.Message, len(tests))
	before := make([][]byte, len(tests))
	for i, tt := range tests {
		msgs[i] = tt.msg
		b, _ := tt.msg.AsBytes()
		before[i] = append([]byte(nil), b...)
	}
	out := runOCSF(t, p, msgs...)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := out[i]
			switch {
			case tt.wantErr != "":
				require.Error(t, m.GetError())
				assert.Contains(t, m.GetError().Error(), tt.wantErr)
				b, _ := m.AsBytes()
				assert.Equal(t, string(before[i]), string(b), "a refused message keeps its content")
				_, has := m.MetaGet(MetaOCSFClassUID)
				assert.False(t, has)
			case tt.class == 0:
				require.NoError(t, m.GetError())
				b, _ := m.AsBytes()
				assert.Equal(t, string(before[i]), string(b), "a telephony message passes unchanged")
				v, _ := m.MetaGet(MetaOCSFUnmapped)
				assert.Equal(t, "telephony", v)
				_, has := m.MetaGet(MetaOCSFClassUID)
				assert.False(t, has)
			default:
				requireOCSF(t, m, tt.class)
			}
		})
	}
	ev := requireOCSF(t, out[0], 3002)
	assert.Equal(t, "1a2b3c4d", ev["metadata"].(map[string]any)["tenant_uid"])
	assert.Equal(t, "192.0.2.10", ev["src_endpoint"].(map[string]any)["ip"])
	assert.EqualValues(t, 2, ev["status_id"], "fraud is a failure")
	assert.EqualValues(t, 1, ev["activity_id"], "fraud is still a Logon")
	assert.NotContains(t, ev, "raw_data")
}

// TestDuoOCSFConfig checks the fields through the real spec.
func TestDuoOCSFConfig(t *testing.T) {
	p := newTestOCSF(t, `
log_type: Duo.Administrator
api_host: api-cafe1234.duosecurity.com
raw_data: true
`)
	out := runOCSF(t, p, duoMessage("", ocsfAdminEvent))
	ev := requireOCSF(t, out[0], 3001)
	assert.Equal(t, ocsfAdminEvent, ev["raw_data"])
	assert.Equal(t, "cafe1234", ev["metadata"].(map[string]any)["tenant_uid"])

	p = newTestOCSF(t, `log_type: '${! json("kind") }'`)
	out = runOCSF(t, p, duoMessage("", `{"kind":"Duo.TrustMonitor","sekey":"SE1","surfaced_timestamp":1780142580609,"type":"auth"}`))
	requireOCSF(t, out[0], 2004)

	conf, err := duoOCSFSpec().ParseYAML(`log_type: Duo.Nothing`, nil)
	require.NoError(t, err)
	_, err = newDuoOCSF(conf, service.MockResources())
	assert.ErrorContains(t, err, `log_type: "Duo.Nothing" is no Duo log type`)
}

// TestDuoOCSFSimulatorRawAndNormalized maps the simulator's events of every
// log type twice, raw and after duo_normalize, and validates every OCSF
// event; telephony passes through flagged both times.
func TestDuoOCSFSimulatorRawAndNormalized(t *testing.T) {
	const n = 1000
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	sim, err := duosim.New(duosim.Config{Now: func() time.Time { return now }, Seed: 3})
	require.NoError(t, err)
	from := now.Add(-48 * time.Hour)
	norm := newTestProc(t, `{}`)
	p := newTestOCSF(t, `{}`)
	types := map[duoapi.LogType]string{
		duoapi.Authentication: "Duo.Authentication", duoapi.Administrator: "Duo.Administrator",
		duoapi.Telephony: "Duo.Telephony", duoapi.OfflineEnrollment: "Duo.OfflineEnrollment",
		duoapi.Activity: "Duo.Activity", duoapi.TrustMonitor: "Duo.TrustMonitor",
	}
	for lt, name := range types {
		require.NoError(t, sim.Generate(lt, n, from, now))
		events := sim.Events(lt, from, now)
		require.Len(t, events, n)
		var raw, normalized []*service.Message
		for _, e := range events {
			raw = append(raw, duoMessage(name, string(e.Body)))
			normalized = append(normalized, duoMessage(name, string(e.Body)))
		}
		nb, err := norm.ProcessBatch(t.Context(), normalized)
		require.NoError(t, err)
		for _, batch := range []service.MessageBatch{raw, nb[0]} {
			out := runOCSF(t, p, batch...)
			for _, m := range out {
				if lt == duoapi.Telephony {
					require.NoError(t, m.GetError())
					v, _ := m.MetaGet(MetaOCSFUnmapped)
					require.Equal(t, "telephony", v)
					continue
				}
				class, _ := m.MetaGet(MetaOCSFClassUID)
				var c int
				_, _ = fmt.Sscan(class, &c)
				requireOCSF(t, m, c)
			}
		}
	}
}

// TestDuoOCSFExample runs the spec's example in a stream, with a file
// input for duo_admin_logs: OCSF events land in one file per class,
// telephony in its own file, refused events in the dead-letter file.
func TestDuoOCSFExample(t *testing.T) {
	var example string
	service.GlobalEnvironment().WalkProcessors(func(name string, v *service.ConfigView) {
		if name != "duo_ocsf" {
			return
		}
		data, err := v.TemplateData()
		require.NoError(t, err)
		require.Len(t, data.Examples, 1)
		example = data.Examples[0].Config
	})
	require.Contains(t, example, "check: errored()")
	dir := t.TempDir()
	lines := []string{
		`{"t":"Duo.Authentication","e":` + ocsfAuthEvent + `}`,
		`{"t":"Duo.Administrator","e":` + ocsfAdminEvent + `}`,
		`{"t":"Duo.Telephony","e":` + ocsfTelephony + `}`,
		`{"t":"Duo.Authentication","e":{"txid":"x"}}`,
	}
	in := filepath.Join(dir, "in.jsonl")
	require.NoError(t, os.WriteFile(in, []byte(strings.Join(lines, "\n")+"\n"), 0o644))
	_, rest, ok := strings.Cut(example, "pipeline:")
	require.True(t, ok)
	conf := `
input:
  file:
    paths: [` + in + `]
    scanner:
      lines: {}
  processors:
    - mapping: |
        meta duo_log_type = this.t
        root = this.e
pipeline:` + strings.ReplaceAll(rest, "./", dir+"/")
	b := service.NewStreamBuilder()
	require.NoError(t, b.SetYAML(conf))
	require.NoError(t, b.SetLoggerYAML("level: off"))
	strm, err := b.Build()
	require.NoError(t, err)
	require.NoError(t, strm.Run(t.Context()))
	require.NoError(t, strm.StopWithin(5*time.Second))

	assert.Equal(t, []string{`{"txid":"x"}`}, readLines(t, filepath.Join(dir, "duo-dead-letter.jsonl")))
	assert.Equal(t, []string{ocsfTelephony}, readLines(t, filepath.Join(dir, "duo-telephony.jsonl")))
	assert.Len(t, readLines(t, filepath.Join(dir, "ocsf-3002.jsonl")), 1)
	assert.Len(t, readLines(t, filepath.Join(dir, "ocsf-3001.jsonl")), 1)
}
