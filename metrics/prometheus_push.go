// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package metrics

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"
	"github.com/redpanda-data/benthos/v4/public/service"
)

// pushTimeout bounds one push, so a gateway that stalls delays neither the
// next push nor shutdown for long.
const pushTimeout = 10 * time.Second

// pusher pushes a registry to a Prometheus Pushgateway every interval, if
// set, and once more when closed. It is safe for concurrent use.
type pusher struct {
	push     *push.Pusher
	interval time.Duration
	log      *service.Logger
	// target is the gateway and job, without credentials, for log lines.
	target string
	// secrets are scrubbed from every error: the basic auth password and
	// a password in push_url.
	secrets []string

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// newPusherFromParsed returns the pusher that the push_* fields describe,
// already running when push_interval is set, or nil when push_url is empty.
func newPusherFromParsed(conf *service.ParsedConfig, reg prometheus.Gatherer, log *service.Logger) (*pusher, error) {
	rawURL, err := conf.FieldString(pmFieldPushURL)
	if err != nil {
		return nil, err
	}
	if rawURL == "" {
		return nil, nil
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// url.Parse errors quote the URL, which may hold a password.
		return nil, fmt.Errorf("field %s: want the gateway's http:// or https:// URL, such as http://pushgateway:9091", pmFieldPushURL)
	}
	if strings.Contains(u.Path, "/metrics/job") {
		return nil, fmt.Errorf("field %s: leave out the /metrics/job/... path (%s), push_job_name sets the job", pmFieldPushURL, u.Redacted())
	}
	p := &pusher{log: log, stop: make(chan struct{}), done: make(chan struct{})}
	// Credentials in the URL are sent as basic auth, and the URL pushed to
	// holds none, so that no error or log line can quote them.
	urlUser, urlPassword := u.User.Username(), ""
	if pw, ok := u.User.Password(); ok {
		urlPassword = pw
	}
	u.User = nil

	rawInterval, err := conf.FieldString(pmFieldPushInterval)
	if err != nil {
		return nil, err
	}
	if rawInterval != "" {
		if p.interval, err = time.ParseDuration(rawInterval); err != nil || p.interval <= 0 {
			return nil, fmt.Errorf("field %s: want a positive duration such as 30s, got %q", pmFieldPushInterval, rawInterval)
		}
	}
	job, err := conf.FieldString(pmFieldPushJobName)
	if err != nil {
		return nil, err
	}
	if job == "" {
		return nil, fmt.Errorf("field %s: must not be empty when %s is set", pmFieldPushJobName, pmFieldPushURL)
	}
	user, err := conf.FieldString(pmFieldPushBasicAuth, pmFieldPushUsername)
	if err != nil {
		return nil, err
	}
	password, err := conf.FieldString(pmFieldPushBasicAuth, pmFieldPushPassword)
	if err != nil {
		return nil, err
	}
	if (user == "") != (password == "") {
		return nil, fmt.Errorf("field %s: set both %s and %s, or neither", pmFieldPushBasicAuth, pmFieldPushUsername, pmFieldPushPassword)
	}
	if user == "" {
		user, password = urlUser, urlPassword
	}

	p.push = push.New(u.String(), job).Gatherer(reg).Client(&http.Client{Timeout: pushTimeout})
	p.target = fmt.Sprintf("%s (job %s)", u.String(), job)
	if user != "" {
		p.push = p.push.BasicAuth(user, password)
		p.secrets = append(p.secrets, password)
		if u.Scheme == "http" && !loopbackHost(u.Hostname()) {
			log.Warnf("Metrics are pushed to %s with %s over plain http, which sends the password in clear; use an https:// %s", p.target, pmFieldPushBasicAuth, pmFieldPushURL)
		}
	}
	if p.interval > 0 {
		go p.run()
	} else {
		close(p.done)
	}
	return p, nil
}

// loopbackHost reports whether host is localhost or a loopback address.
func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// run pushes every interval until close.
func (p *pusher) run() {
	defer close(p.done)
	tick := time.NewTicker(p.interval)
	defer tick.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-tick.C:
			ctx, cancel := context.WithTimeout(context.Background(), pushTimeout)
			if err := p.pushOnce(ctx); err != nil {
				p.log.Errorf("%v; the next push is in %s", err, p.interval)
			}
			cancel()
		}
	}
}

// pushOnce replaces the job's metrics on the gateway with the registry's.
func (p *pusher) pushOnce(ctx context.Context) error {
	err := p.push.PushContext(ctx)
	if err == nil {
		return nil
	}
	msg := err.Error()
	for _, s := range p.secrets {
		msg = strings.ReplaceAll(msg, s, "xxxxx")
	}
	hint := "check that the gateway runs and that push_url names it"
	switch {
	case strings.Contains(msg, "status code 401"), strings.Contains(msg, "status code 403"):
		hint = "check " + pmFieldPushBasicAuth
	case strings.Contains(msg, "status code 400"):
		hint = "the gateway refused the metrics; another job pushes metrics of the same name with other types or help, give this one its own " + pmFieldPushJobName
	}
	return fmt.Errorf("push metrics to %s: %s (%s)", p.target, msg, hint)
}

// close stops the interval pushes and pushes a last time, so the gateway
// holds the final values.
func (p *pusher) close(ctx context.Context) error {
	var err error
	p.closeOnce.Do(func() {
		close(p.stop)
		<-p.done
		ctx, cancel := context.WithTimeout(ctx, pushTimeout)
		defer cancel()
		err = p.pushOnce(ctx)
	})
	return err
}
