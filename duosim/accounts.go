// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package duosim

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/duostream/duostream/duoapi"
)

// ChildConfig describes a child account of the MSP parent, as AddChild and
// Config.Children take it.
type ChildConfig struct {
	// ID is the child's account_id, such as DA9VZOC5X63I2W72NRP9 (Duo's
	// are "DA" and 18 upper-case letters or digits). It must be unique
	// among the children.
	ID string
	// Name is the child's name in the account list.
	Name string
	// APIHostname is the child's api_hostname, taken verbatim (a Duo
	// Federal child has one on duofederal.com): log requests for the child
	// must be signed for it. No two accounts may share one.
	APIHostname string
	// CrossDeployment makes the child a cross-deployment sub-account: it is
	// listed, but its log requests get 403 / 40301, because Duo's Admin API
	// cannot be called through the Accounts API for such children.
	CrossDeployment bool
	// Unavailable lists the log types the child's edition lacks, as
	// Config.Unavailable does for the parent.
	Unavailable map[duoapi.LogType]int
}

// Child is a child account of the simulated MSP parent, with its own events
// (AddEvents, Generate, RunLive; Events and CountEvents read them back), its
// own rate limit of Config.RateLimitPerMinute requests a minute, and its own
// missing log types; the faults and DenyLogRead of the Config apply to it as
// to the parent.
//
// A log request for a child is made the way Duo's documentation and
// clients make one: signed with the parent's credentials
// (Sim.IntegrationKey, Sim.SecretKey), with the child's ID in the
// account_id parameter, which is signed like any other, and signed for the
// child's API hostname (APIHost). The simulator is reached at one address
// whatever the hostname, so it checks the signature against the hostname of
// the child that account_id names, and answers 401 / 40103 to a request
// signed for the parent's hostname or another child's.
//
// A request whose account_id names no child (one never added, or removed)
// gets 403 / 40301 once its signature matches the parent's hostname or any
// hostname a child has had, and 401 / 40103 otherwise. What Duo answers in
// that case is not documented; 403 / 40301 is the simulator's choice.
//
// A Child stays usable after RemoveChild, but no request reaches it any
// more. A Child is safe for concurrent use.
type Child struct {
	id, name, host  string
	crossDeployment bool
	accountStore
}

// ID returns the child's account_id.
func (c *Child) ID() string { return c.id }

// Name returns the child's name.
func (c *Child) Name() string { return c.name }

// APIHost returns the child's api_hostname, which its requests must be
// signed for.
func (c *Child) APIHost() string { return c.host }

// CrossDeployment reports whether the child is a cross-deployment
// sub-account, which refuses log requests.
func (c *Child) CrossDeployment() bool { return c.crossDeployment }

// children holds the child accounts of the parent.
type children struct {
	mu   sync.RWMutex
	byID map[string]*Child
	list []*Child // in the order they were added, as the account list gives them
	// hosts are the API hostnames of every child ever added, each once,
	// which a request for an account that is not a child may be signed for.
	hosts []string
	// rng draws the children of GenerateChildren.
	rng *rand.Rand
}

// childStream separates the generator of child accounts from the other
// generators that share the seed.
const childStream = 0x6368696c64

func (cs *children) init(seed uint64) {
	cs.byID = make(map[string]*Child)
	cs.rng = rand.New(rand.NewPCG(seed, childStream))
}

// AddChild adds a child account to the parent, from then on listed by the
// Accounts API and served to log requests that name its ID.
func (s *Sim) AddChild(cfg ChildConfig) (*Child, error) {
	s.children.mu.Lock()
	defer s.children.mu.Unlock()
	c, err := s.addChildLocked(cfg)
	if err != nil {
		return nil, fmt.Errorf("add child %s: %w", cfg.ID, err)
	}
	return c, nil
}

// addChildLocked checks and adds a child. The caller holds s.children.mu.
func (s *Sim) addChildLocked(cfg ChildConfig) (*Child, error) {
	if !s.accountsAPI {
		return nil, errors.New("the integration has no Accounts API access (Config.AccountsAPI)")
	}
	if cfg.ID == "" {
		return nil, errors.New("empty account ID")
	}
	if _, ok := s.children.byID[cfg.ID]; ok {
		return nil, errors.New("already a child account")
	}
	if cfg.APIHostname == "" {
		return nil, errors.New("empty API hostname")
	}
	if owner := s.hostOwnerLocked(cfg.APIHostname); owner != "" {
		return nil, fmt.Errorf("API hostname %s is already %s's", cfg.APIHostname, owner)
	}
	unavailable, err := unavailableErrors(cfg.Unavailable)
	if err != nil {
		return nil, err
	}
	c := &Child{id: cfg.ID, name: cfg.Name, host: cfg.APIHostname, crossDeployment: cfg.CrossDeployment}
	rng := rand.New(rand.NewPCG(s.seed, childDataStream(cfg.ID)))
	c.accountStore.init(s.now, newGenerator(rng, cfg.APIHostname, cfg.ID, s.stringActions), s.perMinute, unavailable)
	s.children.byID[c.id] = c
	s.children.list = append(s.children.list, c)
	if !slices.ContainsFunc(s.children.hosts, func(h string) bool { return strings.EqualFold(h, c.host) }) {
		s.children.hosts = append(s.children.hosts, c.host)
	}
	return c, nil
}

// hostOwnerLocked names the account that has API hostname host ("the
// parent" or "child ID"), or returns "" when none has. The caller holds
// s.children.mu.
func (s *Sim) hostOwnerLocked(host string) string {
	if strings.EqualFold(host, s.host) {
		return "the parent"
	}
	for _, c := range s.children.list {
		if strings.EqualFold(host, c.host) {
			return "child " + c.id
		}
	}
	return ""
}

// childDataStream is the stream of the generator of a child's events, so
// that they depend on Config.Seed and the child's ID only.
func childDataStream(id string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return h.Sum64()
}

// Words of generated child account names: the customers of an MSP.
var (
	childOrgs = []string{"Acme", "Northwind", "Contoso", "Fabrikam", "Globex", "Initech", "Tailspin", "Wide World",
		"Adventure Works", "Proseware", "Litware", "Lucerne", "Woodgrove", "Fourth Coffee", "Alpine Ski", "Blue Yonder"}
	childTrades = []string{"Dental", "Logistics", "Health", "Legal", "Manufacturing", "Credit Union", "School District",
		"Architects", "Realty", "Veterinary Clinic"}
)

// hostAlphabet holds the characters of the eight that name a Duo API
// hostname, api-XXXXXXXX.duosecurity.com.
const hostAlphabet = "0123456789abcdefghijklmnopqrstuvwxyz"

// GenerateChildren adds n child accounts with realistic IDs ("DA" and 18
// upper-case letters or digits), names ("Northwind Dental") and API
// hostnames (api-xxxxxxxx.duosecurity.com), all different from the other
// accounts'. They depend only on Config.Seed and the earlier calls of
// GenerateChildren, and so do the events Generate makes for them.
func (s *Sim) GenerateChildren(n int) ([]*Child, error) {
	if n < 0 {
		return nil, fmt.Errorf("generate children: count %d is negative", n)
	}
	s.children.mu.Lock()
	defer s.children.mu.Unlock()
	out := make([]*Child, 0, n)
	for range n {
		c, err := s.addChildLocked(s.drawChildLocked())
		if err != nil {
			return out, fmt.Errorf("generate children: %w", err)
		}
		out = append(out, c)
	}
	return out, nil
}

// drawChildLocked draws a child account unlike the others. The caller holds
// s.children.mu.
func (s *Sim) drawChildLocked() ChildConfig {
	rng := s.children.rng
	var cfg ChildConfig
	for cfg.ID == "" || s.children.byID[cfg.ID] != nil {
		cfg.ID = "DA" + randomString(rng, keyAlphabet, 18)
	}
	for cfg.APIHostname == "" || s.hostOwnerLocked(cfg.APIHostname) != "" {
		cfg.APIHostname = "api-" + randomString(rng, hostAlphabet, 8) + ".duosecurity.com"
	}
	base := pick(rng, childOrgs) + " " + pick(rng, childTrades)
	cfg.Name = base
	for k := 2; s.nameTakenLocked(cfg.Name); k++ {
		cfg.Name = base + " " + strconv.Itoa(k)
	}
	return cfg
}

func (s *Sim) nameTakenLocked(name string) bool {
	for _, c := range s.children.list {
		if c.name == name {
			return true
		}
	}
	return false
}

// RemoveChild removes a child account: it leaves the account list, and log
// requests that name its ID get 403 / 40301.
func (s *Sim) RemoveChild(id string) error {
	s.children.mu.Lock()
	defer s.children.mu.Unlock()
	c, ok := s.children.byID[id]
	if !ok {
		return fmt.Errorf("remove child %s: not a child account", id)
	}
	delete(s.children.byID, id)
	i := slices.Index(s.children.list, c)
	s.children.list = slices.Delete(s.children.list, i, i+1)
	return nil
}

// Child returns the child account with account_id id, or nil when the
// parent has none.
func (s *Sim) Child(id string) *Child {
	s.children.mu.RLock()
	defer s.children.mu.RUnlock()
	return s.children.byID[id]
}

// Children returns the child accounts, in the order the account list gives
// them: the order they were added.
func (s *Sim) Children() []*Child {
	s.children.mu.RLock()
	defer s.children.mu.RUnlock()
	return slices.Clone(s.children.list)
}

// authorize finds the account a log request is for, the parent's own when
// it has no account_id parameter or else the child that parameter names,
// and checks that the request is signed for that account's API hostname. A
// request for a cross-deployment child, or whose account_id names no child,
// is refused with 403 / 40301 once signed for a hostname the simulator
// knows. It notes in rec the hostname the request was signed for.
func (s *Sim) authorize(c credentials, rec *RequestRecord) (*accountStore, *apiError) {
	ids, named := rec.Query["account_id"]
	if !named {
		if !s.checkHost(c, s.host, rec) {
			return nil, errBadSignature
		}
		return &s.accountStore, nil
	}
	var child *Child
	if len(ids) == 1 {
		child = s.Child(ids[0])
	}
	if child == nil {
		if !c.signedFor(s.skey, s.host) {
			rec.SignedHost = s.knownHostSigned(c)
			if rec.SignedHost == "" {
				return nil, errBadSignature
			}
		}
		if len(ids) > 1 {
			return nil, errInvalid("'account_id' must be given once")
		}
		return nil, errForbidden
	}
	if !s.checkHost(c, child.host, rec) {
		return nil, errBadSignature
	}
	if child.crossDeployment {
		return nil, errForbidden
	}
	return &child.accountStore, nil
}

// checkHost reports whether c is signed for host, and notes in rec the
// hostname it was signed for, host or, when it was not, any other the
// simulator knows.
func (s *Sim) checkHost(c credentials, host string, rec *RequestRecord) bool {
	if !c.signedFor(s.skey, host) {
		rec.SignedHost = s.knownHostSigned(c)
		return false
	}
	if !strings.EqualFold(host, s.host) {
		rec.SignedHost = host
	}
	return true
}

// knownHostSigned returns the hostname of a child, present or removed, that
// c is signed for, or "" when c is signed for no child's hostname.
func (s *Sim) knownHostSigned(c credentials) string {
	s.children.mu.RLock()
	hosts := slices.Clone(s.children.hosts)
	s.children.mu.RUnlock()
	for _, h := range hosts {
		if c.signedFor(s.skey, h) {
			return h
		}
	}
	return ""
}

// listedAccount is a child account as the account list gives it.
type listedAccount struct {
	AccountID   string `json:"account_id"`
	APIHostname string `json:"api_hostname"`
	Name        string `json:"name"`
}

// listChildren answers an account list request with credentials c: it must
// be signed for the parent's hostname, by an integration with Accounts API
// access, within the parent's rate limit. It returns the response body.
func (s *Sim) listChildren(c credentials, rec *RequestRecord, now time.Time) ([]byte, *apiError) {
	if !s.checkHost(c, s.host, rec) {
		return nil, errBadSignature
	}
	if !s.accountsAPI {
		return nil, errForbidden
	}
	if s.limiter != nil && !s.limiter.allow(now) {
		return nil, errTooManyRequests
	}
	list := s.Children()
	page := struct {
		Response []listedAccount `json:"response"`
		Stat     string          `json:"stat"`
	}{Response: make([]listedAccount, 0, len(list)), Stat: "OK"}
	for _, c := range list {
		page.Response = append(page.Response, listedAccount{AccountID: c.id, APIHostname: c.host, Name: c.name})
	}
	body, _ := json.Marshal(page) // strings always encode
	return body, nil
}
