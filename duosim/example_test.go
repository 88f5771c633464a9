// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package duosim_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/duostream/duostream/duoapi"
	"github.com/duostream/duostream/duosim"
)

// Example pages through the authentication log of a simulator the way a
// puller does: a fixed window, sort=ts:asc, and next_offset until it is null.
func Example() {
	clock := duosim.NewManualClock(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	srv, err := duosim.Start(duosim.Config{Now: clock.Now, Seed: 1})
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	start, end := clock.Now().Add(-time.Hour), clock.Now().Add(-10*time.Minute)
	if err := srv.Generate(duoapi.Authentication, 250, start, end); err != nil {
		panic(err)
	}

	params := url.Values{
		"mintime": {strconv.FormatInt(start.UnixMilli(), 10)},
		"maxtime": {strconv.FormatInt(end.UnixMilli(), 10)},
		"limit":   {"100"},
		"sort":    {"ts:asc"},
	}
	for {
		var page struct {
			Response struct {
				AuthLogs []json.RawMessage `json:"authlogs"`
				Metadata struct {
					NextOffset   []string `json:"next_offset"`
					TotalObjects int      `json:"total_objects"`
				} `json:"metadata"`
			} `json:"response"`
		}
		status := getPage(srv, clock.Now(), duoapi.PathAuthenticationV2, params, &page)
		fmt.Printf("%d %d of %d\n", status, len(page.Response.AuthLogs), page.Response.Metadata.TotalObjects)
		if page.Response.Metadata.NextOffset == nil {
			break
		}
		params.Set("next_offset", strings.Join(page.Response.Metadata.NextOffset, ","))
	}
	fmt.Println(srv.CountEvents(duoapi.Authentication, start, end.Add(time.Millisecond)), "events exist")
	fmt.Println(srv.RequestCounts()[duosim.PathStatus{Path: duoapi.PathAuthenticationV2, Status: 200}], "requests")
	// Output:
	// 200 100 of 250
	// 200 100 of 250
	// 200 50 of 250
	// 250 events exist
	// 3 requests
}

// Example_trustMonitor pages through Trust Monitor events, 225 of which
// surfaced in one millisecond, the way Duo pages them: a fixed window on
// surfaced_timestamp, and the opaque metadata.next_offset sent back as offset
// until it is absent.
func Example_trustMonitor() {
	clock := duosim.NewManualClock(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	srv, err := duosim.Start(duosim.Config{Now: clock.Now, Seed: 1})
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	start, end := clock.Now().Add(-time.Hour), clock.Now().Add(-10*time.Minute)
	burst := start.Add(30 * time.Minute)
	if err := srv.Generate(duoapi.TrustMonitor, 675, start, end); err != nil {
		panic(err)
	}
	if err := srv.Generate(duoapi.TrustMonitor, 225, burst, burst); err != nil { // one surfaced_timestamp
		panic(err)
	}

	params := url.Values{
		"mintime": {strconv.FormatInt(start.UnixMilli(), 10)},
		"maxtime": {strconv.FormatInt(end.UnixMilli(), 10)},
		"limit":   {"200"},
	}
	total := 0
	for {
		var page struct {
			Response struct {
				Events   []json.RawMessage `json:"events"`
				Metadata struct {
					NextOffset json.RawMessage `json:"next_offset"`
				} `json:"metadata"`
			} `json:"response"`
		}
		status := getPage(srv, clock.Now(), duoapi.PathTrustMonitorV1, params, &page)
		total += len(page.Response.Events)
		if page.Response.Metadata.NextOffset == nil {
			fmt.Printf("%d %d events, no next_offset\n", status, len(page.Response.Events))
			break
		}
		fmt.Printf("%d %d events, next_offset %s\n", status, len(page.Response.Events), page.Response.Metadata.NextOffset)
		params.Set("offset", string(page.Response.Metadata.NextOffset)) // a number: sent as written
	}
	fmt.Println(total, "of", srv.CountEvents(duoapi.TrustMonitor, start, end.Add(time.Millisecond)), "events")
	// Output:
	// 200 200 events, next_offset 200
	// 200 200 events, next_offset 400
	// 200 200 events, next_offset 600
	// 200 200 events, next_offset 800
	// 200 100 events, no next_offset
	// 900 of 900 events
}

// getPage sends srv a GET for path and params, signed with the simulator's
// credentials (signature v2, Date header date), decodes the response body
// into page and returns the HTTP status.
func getPage(srv *duosim.Server, date time.Time, path string, params url.Values, page any) (status int) {
	// Sign for the simulator's API hostname, whatever address it is
	// reached at.
	signed := duoapi.Request{
		Date:   duoapi.FormatDate(date),
		Method: http.MethodGet,
		Host:   srv.APIHost(),
		Path:   path,
		Params: params,
	}
	authz, err := duoapi.Authorization(duoapi.SignatureV2, srv.IntegrationKey(), srv.SecretKey(), signed)
	if err != nil {
		panic(err)
	}
	req, err := http.NewRequest(http.MethodGet, srv.URL+signed.Path+"?"+duoapi.CanonicalParams(params), nil)
	if err != nil {
		panic(err)
	}
	req.Header.Set("Date", signed.Date)
	req.Header.Set("Authorization", authz)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(page); err != nil {
		panic(err)
	}
	return resp.StatusCode
}
