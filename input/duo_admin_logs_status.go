// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package input

import (
	"encoding/json"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/duostream/duostream/duoapi"
	"github.com/duostream/duostream/internal/endpoint"
)

// The status page's paths on the Benthos HTTP server (in streams mode,
// under /<stream id>).
const (
	StatusJSONPath = "/duo/status"
	StatusPagePath = "/duo/"
)

// InputStatus is what GET /duo/status tells of one duo_admin_logs input.
type InputStatus struct {
	Label         string `json:"label,omitempty"`
	APIHostname   string `json:"api_hostname"`
	CheckpointKey string `json:"checkpoint_key"`
	// Discover is set for an input of every child account of an MSP
	// parent.
	Discover bool `json:"discover"`
	// Instance is this process's name in the leases (lease.cache set),
	// empty without leases.
	Instance string `json:"instance,omitempty"`
	// RequestsPerMinute is the budget of each Duo account;
	// MaxRequestsPerMinute the cap of the whole input (0: none);
	// RequestsLastMinute the requests sent in the last minute.
	RequestsPerMinute    int          `json:"requests_per_minute"`
	MaxRequestsPerMinute int          `json:"max_requests_per_minute"`
	RequestsLastMinute   int          `json:"requests_last_minute"`
	StartTime            *time.Time   `json:"start_time,omitempty"`
	EndTime              *time.Time   `json:"end_time,omitempty"`
	Streams              []StreamStat `json:"streams"`
}

// StreamStat is the state of one stream: a log type of one account.
type StreamStat struct {
	AccountID   string `json:"account_id,omitempty"`
	AccountName string `json:"account_name,omitempty"`
	LogType     string `json:"log_type"`
	// Position is the stored position and StoredAt when it was stored,
	// by this process; both are absent until a first store.
	Position *time.Time `json:"position,omitempty"`
	StoredAt *time.Time `json:"stored_at,omitempty"`
	// LagSeconds is how far the stored position is behind now.
	LagSeconds float64    `json:"lag_seconds"`
	LastEvent  *time.Time `json:"last_event,omitempty"`
	// Behind is set while the stream catches up; BacklogEvents and
	// CatchUpSeconds are then its estimate (-1 while not known).
	Behind         bool    `json:"behind"`
	BacklogEvents  int64   `json:"backlog_events"`
	CatchUpSeconds float64 `json:"catch_up_seconds"`
	DropOffAlarm   bool    `json:"drop_off_alarm"`
	Unreachable    bool    `json:"unreachable"`
	// Standby is set while another process holds the stream's lease.
	Standby bool `json:"standby,omitempty"`
	// LastError is the last failure, with what to fix, and LastErrorAt
	// when it happened; OK is false while no batch came since.
	LastError   string     `json:"last_error,omitempty"`
	LastErrorAt *time.Time `json:"last_error_at,omitempty"`
	OK          bool       `json:"ok"`
}

// streamHealth keeps what the status page tells of failures: the last error
// of each stream, the last success, the children that cannot be reached,
// and the requests of the last minute.
type streamHealth struct {
	mu        sync.Mutex
	lastErr   map[duoapi.StreamKey]string
	lastErrAt map[duoapi.StreamKey]time.Time
	lastOK    map[duoapi.StreamKey]time.Time
	// unreachable holds the error of each child account that cannot be
	// reached, and when it came.
	unreachable   map[string]string
	unreachableAt map[string]time.Time
	requests      [60]struct {
		second int64
		n      int
	}
}

func newStreamHealth() *streamHealth {
	return &streamHealth{
		lastErr: map[duoapi.StreamKey]string{}, lastErrAt: map[duoapi.StreamKey]time.Time{},
		lastOK: map[duoapi.StreamKey]time.Time{}, unreachable: map[string]string{}, unreachableAt: map[string]time.Time{},
	}
}

func (h *streamHealth) failed(k duoapi.StreamKey, err error, at time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lastErr[k], h.lastErrAt[k] = err.Error(), at
}

func (h *streamHealth) succeeded(k duoapi.StreamKey, at time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lastOK[k] = at
}

// setUnreachable records that child account id cannot be reached (err),
// or, with a nil err, that it answers again.
func (h *streamHealth) setUnreachable(id string, err error, at time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil {
		h.unreachable[id], h.unreachableAt[id] = err.Error(), at
		return
	}
	delete(h.unreachable, id)
	delete(h.unreachableAt, id)
}

// request counts a request sent at.
func (h *streamHealth) request(at time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	sec := at.Unix()
	b := &h.requests[sec%int64(len(h.requests))]
	if b.second != sec {
		b.second, b.n = sec, 0
	}
	b.n++
}

// requestsLastMinute counts the requests of the minute before now.
func (h *streamHealth) requestsLastMinute(now time.Time) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, b := range h.requests {
		if now.Unix()-b.second < int64(len(h.requests)) {
			n += b.n
		}
	}
	return n
}

// status returns the input's state for the status page.
func (in *duoAdminLogsInput) status(now time.Time) InputStatus {
	s := InputStatus{
		Label:                in.res.Label(),
		APIHostname:          in.host,
		CheckpointKey:        in.positions.prefix,
		Discover:             in.accounts != nil,
		RequestsPerMinute:    in.requestsPerMinute,
		MaxRequestsPerMinute: in.maxRequestsPerMinute,
		RequestsLastMinute:   in.health.requestsLastMinute(now),
		StartTime:            timePtr(in.pullerCfg.StartTime),
		EndTime:              timePtr(in.pullerCfg.EndTime),
	}
	if in.leases != nil {
		s.Instance = in.leases.holder
	}
	in.streamsMu.Lock()
	states := make([]*streamState, 0, len(in.streams))
	for _, st := range in.streams {
		states = append(states, st)
	}
	in.streamsMu.Unlock()
	slices.SortFunc(states, func(a, b *streamState) int {
		if c := strings.Compare(a.stream.Account.ID, b.stream.Account.ID); c != 0 {
			return c
		}
		return slices.Index(in.pullerCfg.LogTypes, a.stream.LogType) - slices.Index(in.pullerCfg.LogTypes, b.stream.LogType)
	})
	for _, st := range states {
		k := st.stream.Key()
		stat := StreamStat{AccountID: k.AccountID, AccountName: st.stream.Account.Name, LogType: string(k.LogType)}
		in.persistMu.Lock()
		stored, storedAt := st.storedPos, st.storedAt
		in.persistMu.Unlock()
		if !stored.IsZero() {
			stat.Position, stat.StoredAt = timePtr(stored), timePtr(storedAt)
			stat.LagSeconds = max(0, now.Sub(stored).Seconds())
		}
		stat.LastEvent = timePtr(in.alarm.last(k))
		stat.DropOffAlarm = in.alarm.alarmed(k)
		if in.leases != nil {
			_, owned := in.leases.Owns(st.stream)
			stat.Standby = !owned
		}
		stat.Behind, stat.BacklogEvents, stat.CatchUpSeconds = in.progress.status(k, now)
		in.health.mu.Lock()
		accountErr, unreachable := in.health.unreachable[k.AccountID]
		stat.Unreachable = unreachable
		if at, ok := in.health.lastErrAt[k]; ok {
			stat.LastError, stat.LastErrorAt = in.health.lastErr[k], timePtr(at)
		}
		if at := in.health.unreachableAt[k.AccountID]; unreachable && (stat.LastErrorAt == nil || at.After(*stat.LastErrorAt)) {
			stat.LastError, stat.LastErrorAt = accountErr, timePtr(at)
		}
		stat.OK = !stat.Unreachable && (stat.LastErrorAt == nil || in.health.lastOK[k].After(*stat.LastErrorAt))
		in.health.mu.Unlock()
		s.Streams = append(s.Streams, stat)
	}
	return s
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// statusInputs holds every duo_admin_logs input of the process, which the
// status page shows.
var statusInputs = struct {
	sync.Mutex
	inputs []*duoAdminLogsInput
}{}

func addStatusInput(in *duoAdminLogsInput) {
	statusInputs.Lock()
	defer statusInputs.Unlock()
	statusInputs.inputs = append(statusInputs.inputs, in)
}

func removeStatusInput(in *duoAdminLogsInput) {
	statusInputs.Lock()
	defer statusInputs.Unlock()
	statusInputs.inputs = slices.DeleteFunc(statusInputs.inputs, func(i *duoAdminLogsInput) bool { return i == in })
}

// Statuses returns the status of every duo_admin_logs input of the process.
func Statuses(now time.Time) []InputStatus {
	statusInputs.Lock()
	inputs := slices.Clone(statusInputs.inputs)
	statusInputs.Unlock()
	out := make([]InputStatus, 0, len(inputs))
	for _, in := range inputs {
		out = append(out, in.status(now))
	}
	return out
}

// registerStatusPage adds the status page to the Benthos HTTP server of
// res, and reports whether it could (see endpoint.RegistrarOf).
func registerStatusPage(res *service.Resources) bool {
	reg, ok := endpoint.RegistrarOf(res)
	if !ok {
		return false
	}
	reg.RegisterEndpoint(StatusJSONPath, "The state of every Duo log stream, as JSON.", serveStatusJSON)
	reg.RegisterEndpoint(StatusPagePath, "A page showing the state of every Duo log stream.", serveStatusPage)
	return true
}

func serveStatusJSON(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(w, "only GET", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(struct {
		Time   time.Time     `json:"time"`
		Inputs []InputStatus `json:"inputs"`
	}{time.Now().UTC(), Statuses(time.Now())})
}

// statusRefreshSeconds is how often the status page reloads itself.
const statusRefreshSeconds = 10

var statusPage = template.Must(template.New("status").Funcs(template.FuncMap{
	"when": func(t *time.Time) string {
		if t == nil {
			return "–"
		}
		return t.Format(time.RFC3339)
	},
	"dur": func(seconds float64) string {
		if seconds < 0 {
			return "unknown"
		}
		return roundDuration(time.Duration(seconds * float64(time.Second))).String()
	},
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="{{.Refresh}}">
<title>duostream status</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin-bottom: 2em; }
th, td { border: 1px solid #ccc; padding: .3em .6em; text-align: left; vertical-align: top; font-size: .9em; }
th { background: #f3f3f3; }
tr.problem td { background: #fde8e8; }
tr.behind td { background: #fff6dd; }
td.error { max-width: 40em; }
</style>
</head>
<body>
<h1>duostream status</h1>
<p>As of <time id="now">{{.Now.Format "2006-01-02T15:04:05Z07:00"}}</time>; this page reloads every {{.Refresh}} seconds. <a href="status">JSON</a></p>
{{if not .Inputs}}<p id="none">No duo_admin_logs input is running.</p>{{end}}
{{range .Inputs}}
<section class="input">
<h2>{{if .Label}}{{.Label}}: {{end}}{{.APIHostname}}{{if .Discover}} (every child account){{end}}</h2>
<p>Request budget: <span class="budget">{{.RequestsPerMinute}} a minute per account{{if .MaxRequestsPerMinute}}, at most {{.MaxRequestsPerMinute}} in all{{end}}; {{.RequestsLastMinute}} sent in the last minute</span>.
Positions under <code>{{.CheckpointKey}}</code>.{{if .EndTime}} Replaying {{when .StartTime}} to {{when .EndTime}}.{{end}}</p>
<table>
<thead><tr><th>Account</th><th>Log type</th><th>State</th><th>Stored position</th><th>Lag</th><th>Last event</th><th>Backlog</th><th>Last error and its fix</th></tr></thead>
<tbody>
{{range .Streams}}<tr class="stream{{if not .OK}} problem{{else if .Behind}} behind{{end}}" data-account="{{.AccountID}}" data-log-type="{{.LogType}}">
<td>{{if .AccountID}}{{.AccountName}} ({{.AccountID}}){{else}}this account{{end}}</td>
<td>{{.LogType}}</td>
<td class="state">{{if .Standby}}standby (another process pulls it){{else if .Unreachable}}unreachable{{else if not .OK}}failing{{else if .DropOffAlarm}}drop-off alarm{{else if .Behind}}catching up{{else}}OK{{end}}</td>
<td>{{when .Position}}</td>
<td>{{if .Position}}{{dur .LagSeconds}}{{else}}–{{end}}</td>
<td>{{when .LastEvent}}</td>
<td>{{if .Behind}}{{if ge .BacklogEvents 0}}{{.BacklogEvents}} events, {{end}}caught up in {{dur .CatchUpSeconds}}{{else}}–{{end}}</td>
<td class="error">{{if .LastError}}{{when .LastErrorAt}}: {{.LastError}}{{end}}</td>
</tr>
{{end}}</tbody>
</table>
</section>
{{end}}
</body>
</html>
`))

func serveStatusPage(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(w, "only GET", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = statusPage.Execute(w, struct {
		Now     time.Time
		Refresh int
		Inputs  []InputStatus
	}{time.Now().UTC(), statusRefreshSeconds, Statuses(time.Now())})
}
