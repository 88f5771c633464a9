// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package duosim_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/duostream/duostream/duoapi"
	"github.com/duostream/duostream/duosim"
)

// Example_childAccounts reads the authentication log of a child account the
// way an MSP puller does: it lists the children with the parent's Accounts
// API credentials, then asks for a child's logs with the same credentials,
// the child's ID in the signed account_id parameter and the request signed
// for the child's api_hostname. Signed for the parent's hostname, the same
// request is refused.
func Example_childAccounts() {
	clock := duosim.NewManualClock(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	srv, err := duosim.Start(duosim.Config{
		Now:         clock.Now,
		Seed:        1,
		AccountsAPI: true,
		Children: []duosim.ChildConfig{
			{ID: "DAGOODCHILDACCOUNTID", Name: "Child Account 1", APIHostname: "api-a1b2c3d4.duosecurity.com"},
			{ID: "DAFEDERALCHILD000001", Name: "Federal Agency", APIHostname: "api-f0e1d2c3.duofederal.com"},
		},
	})
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	start, end := clock.Now().Add(-time.Hour), clock.Now().Add(-10*time.Minute)
	if err := srv.Child("DAFEDERALCHILD000001").Generate(duoapi.Authentication, 40, start, end); err != nil {
		panic(err)
	}

	// The account list: a v5 POST of the JSON body {} to the parent's host.
	var list struct {
		Response []struct {
			AccountID   string `json:"account_id"`
			APIHostname string `json:"api_hostname"`
			Name        string `json:"name"`
		} `json:"response"`
	}
	status := send(srv, clock.Now(), http.MethodPost, srv.APIHost(), duoapi.PathAccountList, nil, &list)
	fmt.Println("list", status)
	for _, a := range list.Response {
		fmt.Println(a.AccountID, a.APIHostname, a.Name)
	}

	child := list.Response[1]
	params := url.Values{
		"account_id": {child.AccountID},
		"mintime":    {strconv.FormatInt(start.UnixMilli(), 10)},
		"maxtime":    {strconv.FormatInt(end.UnixMilli(), 10)},
		"limit":      {"1000"},
	}
	var page struct {
		Response struct {
			AuthLogs []json.RawMessage `json:"authlogs"`
		} `json:"response"`
	}
	status = send(srv, clock.Now(), http.MethodGet, child.APIHostname, duoapi.PathAuthenticationV2, params, &page)
	fmt.Println("child", status, len(page.Response.AuthLogs), "events")

	var refused struct {
		Code int `json:"code"`
	}
	status = send(srv, clock.Now(), http.MethodGet, srv.APIHost(), duoapi.PathAuthenticationV2, params, &refused)
	fmt.Println("signed for the parent's host", status, refused.Code)
	// Output:
	// list 200
	// DAGOODCHILDACCOUNTID api-a1b2c3d4.duosecurity.com Child Account 1
	// DAFEDERALCHILD000001 api-f0e1d2c3.duofederal.com Federal Agency
	// child 200 40 events
	// signed for the parent's host 401 40103
}

// send sends srv a request signed v5 with the simulator's credentials for
// host: a GET with params as its query, or a POST of the JSON body {}. It
// decodes the response body into out and returns the HTTP status.
func send(srv *duosim.Server, date time.Time, method, host, path string, params url.Values, out any) (status int) {
	signed := duoapi.Request{
		Date:   duoapi.FormatDate(date),
		Method: method,
		Host:   host,
		Path:   path,
		Params: params,
	}
	var body io.Reader
	if method == http.MethodPost {
		signed.Body = []byte("{}")
		body = strings.NewReader("{}")
	}
	authz, err := duoapi.Authorization(duoapi.SignatureV5, srv.IntegrationKey(), srv.SecretKey(), signed)
	if err != nil {
		panic(err)
	}
	req, err := http.NewRequest(method, srv.URL+path+"?"+duoapi.CanonicalParams(params), body)
	if err != nil {
		panic(err)
	}
	req.Header.Set("Date", signed.Date)
	req.Header.Set("Authorization", authz)
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		panic(err)
	}
	return resp.StatusCode
}
