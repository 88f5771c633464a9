// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package duoapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"unicode/utf8"
)

// PathAccountList is the Accounts API endpoint that lists a parent
// account's child accounts.
const PathAccountList = "/accounts/v1/account/list"

// Account is a child account of a Duo MSP parent account, as the Accounts
// API lists it.
type Account struct {
	// ID is the account's ID, such as DA9VZOC5X63I2W72NRP9.
	ID string `json:"account_id"`
	// Name is the account's display name.
	Name string `json:"name"`
	// APIHostname is the account's own API hostname, which requests for
	// it are signed for and sent to. It is taken as Duo gives it, so
	// Duo Federal's api-XXXXXXXX.duofederal.com works as well.
	APIHostname string `json:"api_hostname"`
}

// validate checks what a client for the account needs of it: an ID, and a
// hostname that is only a hostname.
func (a Account) validate() error {
	if a.ID == "" {
		return errors.New(`"account_id" is empty`)
	}
	if a.APIHostname == "" {
		return errors.New(`"api_hostname" is empty`)
	}
	if err := checkHostname(a.APIHostname); err != nil {
		return fmt.Errorf(`"api_hostname" %q is not a bare hostname: %w`, a.APIHostname, err)
	}
	return nil
}

// checkHostname refuses anything but letters, digits, hyphens and the dots
// between non-empty labels: a scheme, a path, a port or a space would change
// where a URL built from it leads.
func checkHostname(h string) error {
	if len(h) > 253 {
		return fmt.Errorf("it is %d bytes long, more than 253", len(h))
	}
	label := 0
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-':
			label++
			continue
		case c == '.':
			if label == 0 {
				return errors.New("it has an empty label")
			}
			label = 0
			continue
		case c == ':' && i+2 < len(h) && h[i+1] == '/' && h[i+2] == '/':
			return errors.New("it has a scheme")
		case c == ':':
			return errors.New("it has a port")
		case c == '/':
			return errors.New("it has a path")
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			return errors.New("it has a space")
		}
		r, _ := utf8.DecodeRuneInString(h[i:])
		return fmt.Errorf("it has the character %q", r)
	}
	if label == 0 {
		return errors.New("it has an empty label")
	}
	return nil
}

// ParseAccountList decodes the body of the account list, a bare array of
// accounts under "response", and checks every entry: a non-empty account_id
// listed once and a bare hostname as api_hostname. An error names the entry
// and the field.
func ParseAccountList(body []byte) ([]Account, error) {
	response, err := okResponse(body)
	if err != nil {
		return nil, err
	}
	if len(response) == 0 || isNull(response) {
		return nil, errors.New(`"response" is missing`)
	}
	var entries []json.RawMessage
	if err := json.Unmarshal(response, &entries); err != nil {
		return nil, fmt.Errorf(`"response" is not an array: %w`, err)
	}
	accounts := make([]Account, 0, len(entries))
	seen := make(map[string]int, len(entries))
	for i, raw := range entries {
		if len(raw) == 0 || raw[0] != '{' {
			return nil, fmt.Errorf(`"response[%d]" is not an object`, i)
		}
		var a Account
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, fmt.Errorf(`"response[%d]": %w`, i, err)
		}
		if err := a.validate(); err != nil {
			if a.ID != "" {
				return nil, fmt.Errorf(`"response[%d]" (account %s): %w`, i, a.ID, err)
			}
			return nil, fmt.Errorf(`"response[%d]": %w`, i, err)
		}
		if j, ok := seen[a.ID]; ok {
			return nil, fmt.Errorf(`"response[%d]": "account_id" %s is listed twice, also as "response[%d]"`, i, a.ID, j)
		}
		seen[a.ID] = i
		accounts = append(accounts, a)
	}
	return accounts, nil
}

// ListChildAccounts lists the child accounts of the parent account whose
// Accounts API application's credentials the client holds, with one signed
// POST of PathAccountList to the client's host, within the request budget.
// Duo sends the whole list at once. Every error of the request is an
// *APIError; a list that ParseAccountList refuses is one with HTTPStatus
// 200. A client made by ForAccount has no children to list: it returns an
// error without sending anything.
func (c *Client) ListChildAccounts(ctx context.Context) ([]Account, error) {
	if c.account.ID != "" {
		return nil, fmt.Errorf("account %s: a child account has no child accounts: list them with the parent's client", c.account.ID)
	}
	body, err := c.do(ctx, http.MethodPost, PathAccountList, nil)
	if err != nil {
		return nil, err
	}
	accounts, err := ParseAccountList(body)
	if err != nil {
		e := c.apiError(http.MethodPost, PathAccountList)
		e.HTTPStatus, e.Err = http.StatusOK, err
		return nil, e
	}
	return accounts, nil
}

// ForAccount returns a client that makes Admin API requests for the child
// account a with c's credentials, which must be those of an Accounts API
// application in a's parent account. Use it for every child that
// ListChildAccounts lists; a child that Duo keeps in another deployment
// cannot be reached this way and needs an Admin API application of its own.
//
// The client signs its requests for a.APIHostname and sends them there, or
// to c's BaseURL when c has one (a simulator or a proxy). Every request
// carries account_id=a.ID among its signed parameters. It has a request
// budget of its own, of c's size, as Duo limits each account's requests,
// and measures its own clock skew; it shares c's HTTP client, Observer and
// SharedLimit. Its errors name the account.
func (c *Client) ForAccount(a Account) (*Client, error) {
	if c.account.ID != "" {
		return nil, fmt.Errorf("account %s: a client for account %s must be made from the parent's client, not a child's", c.account.ID, a.ID)
	}
	if err := a.validate(); err != nil {
		if a.ID != "" {
			return nil, fmt.Errorf("account %s: %w", a.ID, err)
		}
		return nil, fmt.Errorf("child account: %w", err)
	}
	cfg := c.cfg
	cfg.APIHostname = a.APIHostname
	base := c.base
	if cfg.BaseURL == "" {
		base = &url.URL{Scheme: "https", Host: a.APIHostname}
	}
	return &Client{
		cfg:     cfg,
		base:    base,
		budget:  newBudget(c.budget.interval),
		obs:     c.obs,
		http:    c.http,
		now:     c.now,
		maxBody: c.maxBody,
		account: a,
	}, nil
}
